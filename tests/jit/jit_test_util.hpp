// Helpers shared by the JIT tests: scratch directories, files, and running
// jit_probe (a fresh process) to see what the cache holds.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "codegen/jit/files.hpp"
#include "codegen/jit/process.hpp"

namespace spdec::jit::test {

/// A new empty directory under the system's temporary directory, removed at
/// the end of the test.
inline detail::TempDir scratch_dir() {
  std::string error;
  auto dir =
      detail::TempDir::create(std::filesystem::temp_directory_path(), "spdec-jit-test-", &error);
  if (!dir) {
    FAIL(error);
  }
  return std::move(*dir);
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

/// A directory under `base` this process cannot write to. root ignores
/// permissions, so for root it is a path below a regular file (which fails
/// for everyone); otherwise a directory with mode 0500.
inline std::filesystem::path unwritable_directory(const std::filesystem::path& base) {
  if (::geteuid() == 0) {
    write_text(base / "file", "");
    return base / "file" / "sub";
  }
  const std::filesystem::path dir = base / "ro";
  std::filesystem::create_directory(dir);
  std::filesystem::permissions(
      dir, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  return dir;
}

inline std::string read_text(const std::filesystem::path& path) {
  auto text = detail::read_file(path);
  REQUIRE(text.has_value());
  return *text;
}

/// A kernel source of its own for each tag: `float f(float)` returning
/// 2x + tag, so a test also sees that it called the right kernel.
inline std::string kernel_source(int tag) {
  return "extern \"C\" float f(float x) { return 2.0f * x + " + std::to_string(tag) + ".0f; }\n";
}

struct ProbeRun {
  bool hit = false;
  bool memory = false;
  double seconds = 0.0;
  double value = 0.0;
  std::string output;
};

/// Runs jit_probe with these arguments and parses its one line of output.
inline ProbeRun run_probe(const std::vector<std::string>& args) {
  std::vector<std::string> argv{SPDEC_JIT_PROBE};
  argv.insert(argv.end(), args.begin(), args.end());
  const detail::ProcessResult run = detail::run_process(argv, {});
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  ProbeRun out;
  out.output = run.output;
  std::istringstream words(run.output);
  std::string word;
  while (words >> word) {
    const std::size_t eq = word.find('=');
    const std::string field = word.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : word.substr(eq + 1);
    if (field == "hit") {
      out.hit = value == "1";
    } else if (field == "memory") {
      out.memory = value == "1";
    } else if (field == "seconds") {
      out.seconds = std::stod(value);
    } else if (field == "value") {
      out.value = std::stod(value);
    }
  }
  return out;
}

/// The names of the entries of dir, sorted.
inline std::vector<std::string> file_names(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    out.push_back(entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// How many names end with suffix.
inline std::size_t count_ending(const std::vector<std::string>& names, const std::string& suffix) {
  return static_cast<std::size_t>(std::count_if(names.begin(), names.end(), [&](const auto& n) {
    return n.size() >= suffix.size() &&
           n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
  }));
}

/// How many names are temporary files or directories (".tmp-<pid>-...").
inline std::size_t count_temporaries(const std::vector<std::string>& names) {
  return static_cast<std::size_t>(std::count_if(
      names.begin(), names.end(), [](const auto& n) { return n.rfind(".tmp-", 0) == 0; }));
}

}  // namespace spdec::jit::test
