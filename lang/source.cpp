#include "lang/source.hpp"

#include <algorithm>
#include <utility>

namespace spdec::lang {

Span Span::cover(Span a, Span b) { return {std::min(a.begin, b.begin), std::max(a.end, b.end)}; }

SourceFile::SourceFile(std::string path, std::string text)
    : path_(std::move(path)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (std::size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') {
      line_starts_.push_back(i + 1);
    }
  }
}

std::string_view SourceFile::slice(Span span) const {
  const std::size_t begin = std::min<std::size_t>(span.begin, text_.size());
  const std::size_t end = std::clamp<std::size_t>(span.end, begin, text_.size());
  return std::string_view(text_).substr(begin, end - begin);
}

LineColumn SourceFile::line_column(std::size_t offset) const {
  offset = std::min(offset, text_.size());
  const auto after = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const auto line = static_cast<std::size_t>(after - line_starts_.begin());
  return {line, offset - line_starts_[line - 1] + 1};
}

std::string_view SourceFile::line_text(std::size_t line) const {
  if (line == 0 || line > line_starts_.size()) {
    return {};
  }
  const std::size_t begin = line_starts_[line - 1];
  std::size_t end = line < line_starts_.size() ? line_starts_[line] - 1 : text_.size();
  if (end > begin && text_[end - 1] == '\r') {
    --end;
  }
  return std::string_view(text_).substr(begin, end - begin);
}

std::ptrdiff_t find_invalid_text_byte(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == 0) {
      return static_cast<std::ptrdiff_t>(i);
    }
    if (byte < 0x80U) {
      ++i;
      continue;
    }
    // Length of a well-formed UTF-8 sequence by its lead byte (RFC 3629).
    std::size_t length = 0;
    if (byte >= 0xC2U && byte <= 0xDFU) {
      length = 2;
    } else if (byte >= 0xE0U && byte <= 0xEFU) {
      length = 3;
    } else if (byte >= 0xF0U && byte <= 0xF4U) {
      length = 4;
    } else {
      return static_cast<std::ptrdiff_t>(i);
    }
    if (i + length > text.size()) {
      return static_cast<std::ptrdiff_t>(i);
    }
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0U) != 0x80U) {
        return static_cast<std::ptrdiff_t>(i);
      }
    }
    i += length;
  }
  return -1;
}

}  // namespace spdec::lang
