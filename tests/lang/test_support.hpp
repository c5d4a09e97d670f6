// Helpers shared by the front-end tests.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "lang/check.hpp"
#include "lang/source.hpp"

namespace spdec::test {

inline std::filesystem::path source_dir() { return SPDEC_SOURCE_DIR; }

inline std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir,
                                                   const std::string& extension = ".spde") {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::exists(dir)) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.is_regular_file() && entry.path().extension() == extension) {
        files.push_back(entry.path());
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

inline lang::SourcePtr source(std::string text, std::string path = "test.spde") {
  return std::make_shared<const lang::SourceFile>(std::move(path), std::move(text));
}

/// A minimal valid process around the given extra statements.
inline std::string process_with(const std::string& body) { return "process p\n" + body + "\n"; }

struct CheckResult {
  std::optional<lang::Process> process;
  lang::Diagnostics diagnostics;

  [[nodiscard]] const lang::Diagnostic* first_error() const {
    for (const auto& d : diagnostics.all()) {
      if (d.severity == lang::Severity::error) return &d;
    }
    return nullptr;
  }
  [[nodiscard]] bool has_warning(const std::string& code) const {
    return std::ranges::any_of(diagnostics.all(), [&code](const lang::Diagnostic& d) {
      return d.severity == lang::Severity::warning && d.code == code;
    });
  }
};

inline CheckResult check_text(const std::string& text,
                              const std::vector<lang::ParamOverride>& overrides = {}) {
  CheckResult r;
  lang::CheckOptions options;
  options.overrides = overrides;
  r.process = lang::check_source(source(text), options, r.diagnostics);
  return r;
}

inline CheckResult check_path(const std::filesystem::path& path,
                              const std::vector<lang::ParamOverride>& overrides = {}) {
  CheckResult r;
  lang::CheckOptions options;
  options.overrides = overrides;
  r.process = lang::check_file(path.string(), options, r.diagnostics);
  return r;
}

}  // namespace spdec::test
