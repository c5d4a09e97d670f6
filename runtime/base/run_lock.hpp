// The run directory's lock: every `spdec run` job that writes into run.dir
// holds an exclusive flock on <run.dir>/.lock for as long as it runs, so two
// writers never mix their files in one directory. The file holds the
// holder's pid and job ("12345 train") for the refusal message; the kernel
// releases the lock when the process exits, however it exits (even SIGKILL),
// so a stale .lock file never blocks a later job. The file itself stays.
// Once it holds the lock, a job removes the temporary files of killed
// writers from run.dir (".tmp-<pid>-<n>.checkpoint.pt" and the like, whose
// pid is gone): no other job can be writing them.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace spdec::runtime {

/// Another process holds the lock: "run.dir <path> is in use by pid N
/// (spdec run <job>)".
class RunDirBusy : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RunDirLock {
 public:
  /// Creates `dir` if absent, takes the lock without waiting and removes
  /// killed writers' temporaries from `dir`; throws
  /// RunDirBusy when another process holds it (nothing in `dir` is changed
  /// then), or DataError naming the lock file when it cannot be opened.
  RunDirLock(const std::filesystem::path& dir, const std::string& job);
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;
  RunDirLock(RunDirLock&& other) noexcept;
  RunDirLock& operator=(RunDirLock&& other) noexcept;
  ~RunDirLock();

  /// <dir>/.lock
  [[nodiscard]] static std::filesystem::path file(const std::filesystem::path& dir);

 private:
  int fd_ = -1;
};

}  // namespace spdec::runtime
