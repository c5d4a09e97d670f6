#include "runtime/base/run_lock.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "lang/orphaned_temporary.hpp"
#include "lang/os_reason.hpp"
#include "runtime/base/data_error.hpp"

namespace spdec::runtime {
namespace {

/// The lock file's text ("PID JOB"); empty when unreadable.
std::string read_holder(int fd) {
  std::string text;
  char buffer[128];
  off_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    offset += n;
    if (text.size() > 1024) break;
  }
  return text;
}

/// With the lock held no other spdec job writes into `dir`: a temporary of
/// an atomic write (".tmp-<pid>-<n>.<name>", checkpoint.pt's among them)
/// whose writer is gone from this machine was left by a killed job.
void remove_orphaned_temporaries(const std::filesystem::path& dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (it->is_regular_file(entry_ec) &&
        lang::is_orphaned_temporary(it->path().filename().string())) {
      std::filesystem::remove(it->path(), entry_ec);  // best effort: it is only litter
    }
  }
}

}  // namespace

std::filesystem::path RunDirLock::file(const std::filesystem::path& dir) { return dir / ".lock"; }

RunDirLock::RunDirLock(const std::filesystem::path& dir, const std::string& job) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw DataError(dir, "cannot create the run directory: " + ec.message());
  const std::filesystem::path lock = file(dir);
  // O_CLOEXEC: a child process (a compiler) must not keep the lock alive.
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw DataError(lock, "cannot open the lock file: " + lang::os_reason());
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error != EWOULDBLOCK) {
      ::close(fd_);
      fd_ = -1;
      throw DataError(lock, "cannot lock: " + lang::errno_text(error));
    }
    // The holder writes its pid right after taking the lock: wait briefly
    // for it rather than report an empty file.
    std::string holder = read_holder(fd_);
    for (int i = 0; i < 50 && holder.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      holder = read_holder(fd_);
    }
    ::close(fd_);
    fd_ = -1;
    std::istringstream in(holder);
    long pid = 0;
    std::string other_job;
    in >> pid >> other_job;
    throw RunDirBusy(fmt::format("run.dir {} is in use by {} (spdec run {})", dir.string(),
                                 pid > 0 ? fmt::format("pid {}", pid) : "another process",
                                 other_job.empty() ? "?" : other_job));
  }
  const std::string text = fmt::format("{} {}\n", ::getpid(), job);
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    const int error = errno;
    ::close(fd_);
    fd_ = -1;
    throw DataError(lock, "cannot write the lock file: " + lang::errno_text(error));
  }
  remove_orphaned_temporaries(dir);
}

RunDirLock::RunDirLock(RunDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

RunDirLock& RunDirLock::operator=(RunDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

RunDirLock::~RunDirLock() {
  // Closing the last descriptor releases the flock; the file stays (removing
  // it would let a waiting and a new process lock two different files).
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace spdec::runtime
