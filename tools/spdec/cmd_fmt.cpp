// spdec fmt FILE... [--check | --in-place]
//
// Without a flag the canonical text is printed; --check only reports files
// that are not canonical; --in-place rewrites them. A file with syntax errors
// is never rewritten: its diagnostics are printed and the exit code is 1.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lang/atomic_write.hpp"
#include "lang/diagnostics.hpp"
#include "lang/format.hpp"
#include "lang/parser.hpp"
#include "tools/spdec/commands.hpp"

namespace spdec::cli {

namespace {

struct FmtArgs {
  std::vector<std::string> files;
  bool check = false;
  bool in_place = false;
};

struct Formatted {
  std::string current;
  std::string canonical;
};

/// Parses and formats one file; on errors prints them and returns nullopt.
std::optional<Formatted> format_file(const std::string& path) {
  lang::Diagnostics diagnostics;
  std::optional<lang::ast::Module> module;
  if (const lang::SourcePtr file = lang::load_source(path, diagnostics)) {
    module = lang::parse(file, diagnostics);
  }
  if (!module || diagnostics.has_errors()) {
    std::cerr << lang::render_all(diagnostics, {stderr_wants_color()});
    return std::nullopt;
  }
  return Formatted{module->file->text(), lang::format(*module)};
}

// --- --check: where the file first differs ----------------------------------------

struct Lines {
  std::vector<std::string_view> lines;
  bool final_newline = false;
};

Lines split_lines(std::string_view text) {
  Lines out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      out.lines.push_back(text.substr(start));
      return out;
    }
    out.lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  out.final_newline = !text.empty();
  return out;
}

/// A line as people can read it: control characters (a `\r`, a tab) are
/// shown escaped, since they are often the difference.
std::string visible(std::string_view line) {
  std::string out;
  for (const char c : line) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (byte < 0x20U || byte == 0x7FU) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4U];
      out += kHex[byte & 0xFU];
    } else {
      out += c;
    }
  }
  return out;
}

std::string shown(const Lines& text, std::size_t index) {
  return index < text.lines.size() ? visible(text.lines[index]) : "(end of file)";
}

std::string first_difference(std::string_view current, std::string_view canonical) {
  const Lines a = split_lines(current);
  const Lines b = split_lines(canonical);
  std::size_t i = 0;
  while (i < a.lines.size() && i < b.lines.size() && a.lines[i] == b.lines[i]) {
    ++i;
  }
  if (i == a.lines.size() && i == b.lines.size()) {
    return "  line " + std::to_string(i) + ": " +
           (b.final_newline ? "missing newline at the end of the file"
                            : "the file should end without a newline") +
           "\n";
  }
  std::string out = "  line " + std::to_string(i + 1) + ":\n";
  out += "    current:   " + shown(a, i) + "\n";
  out += "    canonical: " + shown(b, i) + "\n";
  return out;
}

// --- the command --------------------------------------------------------------------

/// 0 when the file is fine (or was rewritten), 1 otherwise.
int fmt_one(const std::string& path, const FmtArgs& args, bool many) {
  const std::optional<Formatted> f = format_file(path);
  if (!f) {
    return 1;
  }
  if (args.check) {
    if (f->current == f->canonical) {
      return 0;
    }
    std::cout << path << ": not formatted (run spdec fmt --in-place " << path << ")\n"
              << first_difference(f->current, f->canonical);
    return 1;
  }
  if (args.in_place) {
    if (f->current == f->canonical) {
      return 0;
    }
    // Atomic (a crash never leaves a half-written file), keeping the file's
    // mode and writing through a symbolic link to its target.
    if (const auto failure = lang::write_file_atomically(path, f->canonical)) {
      std::cerr << "spdec fmt: " << failure->message() << "\n";
      return 1;
    }
    std::cout << "formatted " << path << "\n";
    return 0;
  }
  if (many) {
    std::cout << "==> " << path << " <==\n";
  }
  std::cout << f->canonical;
  return 0;
}

int run_fmt(const FmtArgs& args) {
  int status = 0;
  for (const std::string& path : args.files) {
    status = std::max(status, fmt_one(path, args, args.files.size() > 1));
  }
  std::cout.flush();
  return status;
}

}  // namespace

void add_fmt_command(CLI::App& app, Outcome& outcome) {
  auto args = std::make_shared<FmtArgs>();
  CLI::App* cmd = app.add_subcommand(
      "fmt", "Print .spde files in canonical form, check that they are, or rewrite them");
  cmd->add_option("files", args->files, "the .spde files")->required();
  CLI::Option* check = cmd->add_flag(
      "--check", args->check, "print nothing but the files that are not canonical; exit 1 if any");
  cmd->add_flag("-i,--in-place", args->in_place, "rewrite files that are not canonical")
      ->excludes(check);
  cmd->callback([args, &outcome] { outcome.exit_code = run_fmt(*args); });
}

}  // namespace spdec::cli
