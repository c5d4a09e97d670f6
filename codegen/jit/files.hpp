// Small POSIX file helpers for the JIT (internal to codegen/jit).
//
// Errors are returned, not thrown: the kernel cache treats every failure to
// read as a miss and every failure to write as "not cached", and the callers
// decide what to tell the user.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "lang/os_reason.hpp"

namespace spdec::jit::detail {

/// strerror(code) as a string (thread-safe; lang/os_reason.hpp).
using lang::errno_text;

/// The whole file, or nullopt when it cannot be opened or read.
[[nodiscard]] std::optional<std::string> read_file(const std::filesystem::path& path);

/// rename(2) of a file that is complete already (a built shared object;
/// bytes are written with lang::write_file_atomically); on failure sets *error ("rename A -> B:
/// reason") and returns false.
[[nodiscard]] bool rename_file(const std::filesystem::path& from, const std::filesystem::path& to,
                               std::string* error);

/// A private directory (mkdtemp) removed with everything in it on destruction.
class TempDir {
 public:
  /// A new directory "<parent>/<prefix>XXXXXX"; nullopt (and *error) on failure.
  static std::optional<TempDir> create(const std::filesystem::path& parent,
                                       const std::string& prefix, std::string* error);

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  ~TempDir();

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempDir(std::filesystem::path path) : path_(std::move(path)) {}
  void remove() noexcept;

  std::filesystem::path path_;
};

}  // namespace spdec::jit::detail
