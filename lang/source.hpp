// A source buffer with a line index, and byte spans into it.
//
// Every AST node and diagnostic refers to text through a Span (byte offsets),
// and converts to line:column only when a person reads it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spdec::lang {

/// Half-open byte range [begin, end) in one SourceFile.
struct Span {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;

  [[nodiscard]] std::uint32_t size() const { return end - begin; }
  [[nodiscard]] static Span cover(Span a, Span b);
  friend bool operator==(Span, Span) = default;
};

struct LineColumn {
  std::size_t line = 1;    ///< 1-based
  std::size_t column = 1;  ///< 1-based, counted in bytes
};

/// Largest source spdec accepts; larger input gets E007, never a slow parse.
inline constexpr std::size_t kMaxSourceBytes = std::size_t{4} << 20U;

class SourceFile {
 public:
  SourceFile(std::string path, std::string text);

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] const std::string& text() const { return text_; }
  [[nodiscard]] std::string_view slice(Span span) const;
  [[nodiscard]] LineColumn line_column(std::size_t offset) const;
  /// The text of a 1-based line, without its line terminator.
  [[nodiscard]] std::string_view line_text(std::size_t line) const;
  [[nodiscard]] std::size_t line_count() const { return line_starts_.size(); }
  [[nodiscard]] std::size_t line_start(std::size_t line) const { return line_starts_.at(line - 1); }

 private:
  std::string path_;
  std::string text_;
  std::vector<std::size_t> line_starts_;
};

using SourcePtr = std::shared_ptr<const SourceFile>;

/// Where the first byte that is not UTF-8 text (or is NUL) sits, if any.
[[nodiscard]] std::ptrdiff_t find_invalid_text_byte(std::string_view text);

}  // namespace spdec::lang
