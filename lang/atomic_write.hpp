// The one atomic file write of spdec: checkpoints, priors, `.npy` arrays,
// images, `config.toml`, metrics, kernel cache entries and `spdec fmt -i` all
// replace their files through it. Torch-free and in the lowest library, so
// that codegen/jit, runtime/config and the runtime share it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace spdec::lang {

/// Why an atomic write failed. The target file is unchanged (or still
/// absent) and no temporary file is left behind.
struct WriteFailure {
  std::filesystem::path file;  ///< the file that was to be written
  std::string problem;  ///< what failed and why, e.g. "cannot write …: No space left on device"

  /// "<file>: <problem>".
  [[nodiscard]] std::string message() const { return file.string() + ": " + problem; }
};

/// Replaces `file` with `bytes` so that a reader, or the file system after a
/// crash, sees the old contents or the new ones, never a part:
///  - the bytes go to a new temporary file in the target's directory (so the
///    final rename(2) stays on one file system and is atomic), named
///    ".tmp-<pid>-<n>.<name>" and created exclusively (O_EXCL), so concurrent
///    writers, even of the same target, never share one;
///  - it gets the target's permission bits when the target exists (else the
///    usual 0666 less the umask);
///  - it is written in full and fsync'ed before the rename, so the name never
///    points at data that is not on disk yet;
///  - a symbolic link is written through: its target is replaced, the link
///    kept;
///  - on any failure the temporary file is removed.
/// The directory must exist. Returns nullopt on success.
[[nodiscard]] std::optional<WriteFailure> write_file_atomically(const std::filesystem::path& file,
                                                                std::string_view bytes);

}  // namespace spdec::lang
