#include "lang/diagnostics.hpp"

#include <algorithm>
#include <numeric>
#include <string_view>
#include <utility>

namespace spdec::lang {

namespace {

constexpr std::size_t kContextColumns = 80;  // visible source around a caret on long lines

const char* severity_name(Severity severity) {
  switch (severity) {
    case Severity::error:
      return "error";
    case Severity::warning:
      return "warning";
    case Severity::note:
      return "note";
  }
  return "error";
}

const char* severity_color(Severity severity) {
  switch (severity) {
    case Severity::error:
      return "\033[1;31m";
    case Severity::warning:
      return "\033[1;35m";
    case Severity::note:
      return "\033[1;36m";
  }
  return "";
}

// Control characters and bytes beyond ASCII would garble a terminal (or be
// binary junk); each is shown as one '?' so columns stay byte-aligned.
char printable(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (c == '\t') {
    return '\t';
  }
  return (byte < 0x20U || byte >= 0x7FU) ? '?' : c;
}

std::string source_excerpt(const Diagnostic& d, bool color) {
  if (!d.file) {
    return {};
  }
  const LineColumn at = d.start();
  const std::string_view line = d.file->line_text(at.line);
  std::size_t caret_begin = std::min(at.column - 1, line.size());
  // Underline the whole span, clipped to the first line; at least one caret.
  std::size_t caret_end = caret_begin + std::max<std::size_t>(d.span.size(), 1);
  caret_end = std::min(caret_end, std::max(line.size(), caret_begin + 1));

  // Long lines (a megabyte of junk) are cut to a window around the caret.
  std::size_t window_begin = 0;
  std::size_t window_end = line.size();
  if (line.size() > kContextColumns) {
    window_begin = caret_begin > kContextColumns / 2 ? caret_begin - kContextColumns / 2 : 0;
    window_end = std::min(line.size(), window_begin + kContextColumns);
    caret_end = std::min(caret_end, std::max(window_end, caret_begin + 1));
  }
  const std::string gutter = std::to_string(at.line);
  std::string out = std::string(gutter.size() + 1, ' ') + "|\n";
  out += gutter + " | ";
  std::string shown;
  std::string marks;
  if (window_begin > 0) {
    shown += "...";
    marks += "   ";
  }
  for (std::size_t i = window_begin; i < window_end; ++i) {
    shown += printable(line[i]);
  }
  for (std::size_t i = window_begin; i < caret_begin; ++i) {
    marks += line[i] == '\t' ? '\t' : ' ';
  }
  marks += '^';
  marks += std::string(caret_end - caret_begin - 1, '~');
  if (window_end < line.size()) {
    shown += "...";
  }
  out += shown + "\n";
  out += std::string(gutter.size() + 1, ' ') + "| ";
  if (color) {
    out += std::string(severity_color(d.severity)) + marks + "\033[0m";
  } else {
    out += marks;
  }
  out += "\n";
  return out;
}

}  // namespace

LineColumn Diagnostic::start() const { return file ? file->line_column(span.begin) : LineColumn{}; }

void Diagnostics::report(Diagnostic diagnostic) {
  if (diagnostic.severity == Severity::error) {
    if (full()) {
      ++dropped_;
      return;
    }
    ++error_count_;
  }
  diagnostics_.push_back(std::move(diagnostic));
}

void Diagnostics::error(std::string code, const SourcePtr& file, Span span, std::string message,
                        std::string hint) {
  report({Severity::error, std::move(code), file, span, std::move(message), std::move(hint)});
}

void Diagnostics::warning(std::string code, const SourcePtr& file, Span span, std::string message,
                          std::string hint) {
  report({Severity::warning, std::move(code), file, span, std::move(message), std::move(hint)});
}

std::string render(const Diagnostic& d, RenderOptions options) {
  std::string out;
  if (d.file) {
    const LineColumn at = d.start();
    out += d.file->path() + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": ";
  } else {
    out += "spdec: ";
  }
  if (options.color) {
    out += severity_color(d.severity);
  }
  out += severity_name(d.severity);
  if (!d.code.empty()) {
    out += "[" + d.code + "]";
  }
  if (options.color) {
    out += "\033[0m\033[1m";
  }
  out += ": " + d.message;
  if (options.color) {
    out += "\033[0m";
  }
  out += "\n";
  out += source_excerpt(d, options.color);
  if (!d.hint.empty()) {
    out += "  = hint: " + d.hint + "\n";
  }
  return out;
}

std::string render_all(const Diagnostics& diagnostics, RenderOptions options) {
  std::string out;
  std::size_t warnings = 0;
  for (const Diagnostic& d : diagnostics.all()) {
    out += render(d, options);
    warnings += d.severity == Severity::warning ? 1 : 0;
  }
  const std::size_t errors = diagnostics.error_count();
  if (errors > 0 || warnings > 0) {
    out += std::to_string(errors) + (errors == 1 ? " error" : " errors") + ", " +
           std::to_string(warnings) + (warnings == 1 ? " warning" : " warnings");
    if (diagnostics.full()) {
      out += " (stopped after " + std::to_string(Diagnostics::kMaxErrors) + " errors)";
    }
    out += "\n";
  }
  return out;
}

void internal_error(const std::string& what) {
  throw InternalError("internal compiler error: " + what +
                      " (this is a bug in spdec; please report it with the input file)");
}

// Optimal string alignment: Levenshtein plus the swap of two adjacent
// letters as one edit, because swaps are the commonest typo (`gard` for
// `grad` would otherwise be two edits, too far for a four-letter word).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows: the swap looks two rows back.
  std::vector<std::size_t> before(b.size() + 1);
  std::vector<std::size_t> above(b.size() + 1);
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(above.begin(), above.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitute = above[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above[j] + 1, row[j - 1] + 1, substitute});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], before[j - 2] + 1);
      }
    }
    std::swap(before, above);
    std::swap(above, row);
  }
  return above[b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 0;
  // A typo is at most a third of the word (and at least one edit) away.
  const std::size_t limit = std::max<std::size_t>(1, word.size() / 3);
  for (const std::string& candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance <= limit && (best.empty() || distance < best_distance)) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace spdec::lang
