// Diagnostics for people: `path:line:col: error[E0xx]: message`, the source
// line, a caret under the whole span, and a hint.
//
// User mistakes are Diagnostics; the compiler's own broken invariants are
// InternalError (always a bug, never a message meant for a user).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "lang/source.hpp"

namespace spdec::lang {

enum class Severity { error, warning, note };

struct Diagnostic {
  Severity severity = Severity::error;
  std::string code;  ///< "E010", "W102", ... (stable, documented in specs/LANGUAGE.md)
  SourcePtr file;    ///< may be null for diagnostics that concern no text
  Span span;
  std::string message;
  std::string hint;  ///< empty when none helps

  [[nodiscard]] LineColumn start() const;
};

/// Collects diagnostics in order of discovery, up to a cap so that a
/// megabyte of junk cannot produce a megabyte of errors.
class Diagnostics {
 public:
  static constexpr std::size_t kMaxErrors = 50;

  void report(Diagnostic diagnostic);
  void error(std::string code, const SourcePtr& file, Span span, std::string message,
             std::string hint = {});
  void warning(std::string code, const SourcePtr& file, Span span, std::string message,
               std::string hint = {});

  [[nodiscard]] bool has_errors() const { return error_count_ > 0; }
  [[nodiscard]] std::size_t error_count() const { return error_count_; }
  [[nodiscard]] bool full() const { return error_count_ >= kMaxErrors; }
  [[nodiscard]] const std::vector<Diagnostic>& all() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
  std::size_t error_count_ = 0;
  std::size_t dropped_ = 0;
};

struct RenderOptions {
  bool color = false;
};

/// Renders one diagnostic in the compiler style, ending with a newline.
[[nodiscard]] std::string render(const Diagnostic& diagnostic, RenderOptions options = {});
/// Renders all diagnostics plus a summary line ("2 errors, 1 warning").
[[nodiscard]] std::string render_all(const Diagnostics& diagnostics, RenderOptions options = {});

/// A broken internal invariant of spdec itself.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] void internal_error(const std::string& what);

/// Edit distance for "did you mean" hints: Levenshtein, with a swap of two
/// adjacent characters counted as one edit.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);
/// The candidate closest to `word` when it is close enough to be a likely typo.
[[nodiscard]] std::string closest_match(std::string_view word,
                                        const std::vector<std::string>& candidates);

}  // namespace spdec::lang
