#include "lang/atomic_write.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "lang/orphaned_temporary.hpp"
#include "lang/os_reason.hpp"

namespace spdec::lang {
namespace {

/// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }
  /// Closes now; a failed close can mean lost data on some file systems.
  bool close() {
    const int fd = std::exchange(fd_, -1);
    return fd < 0 || ::close(fd) == 0;
  }

 private:
  int fd_;
};

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/// The file a write to `file` lands in: a symbolic link's target.
std::filesystem::path resolved_target(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_symlink(file, ec)) return file;
  std::filesystem::path target = std::filesystem::canonical(file, ec);
  return ec ? file : target;
}

/// A temporary file beside `target`, created exclusively. The pid and a
/// process-wide counter make the name unique among live writers; a name left
/// by a dead process that had the same pid is skipped (EEXIST).
std::pair<Fd, std::filesystem::path> create_temporary(const std::filesystem::path& target,
                                                      std::string* problem) {
  static std::atomic<unsigned long> counter{0};
  const std::filesystem::path dir = target.parent_path();
  const std::string prefix = ".tmp-" + std::to_string(::getpid()) + "-";
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::filesystem::path temp =
        dir / (prefix + std::to_string(counter++) + "." + target.filename().string());
    // NOLINTNEXTLINE(*-vararg): POSIX open
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return {Fd(fd), std::move(temp)};
    if (errno != EEXIST) break;
  }
  const std::string where = dir.empty() ? std::string(".") : dir.string();
  *problem = "cannot create a temporary file in " + where + ": " + errno_text(errno);
  return {Fd(-1), std::filesystem::path()};
}

/// Writes, keeps the target's mode, syncs and closes; "" or the problem.
std::string fill(Fd& fd, const std::filesystem::path& temp, const std::filesystem::path& target,
                 std::string_view bytes) {
  if (!write_all(fd.get(), bytes))
    return "cannot write " + temp.string() + ": " + errno_text(errno);
  struct stat info {};
  if (::stat(target.c_str(), &info) == 0 && ::fchmod(fd.get(), info.st_mode & 07777U) != 0) {
    return "cannot set the mode of " + temp.string() + ": " + errno_text(errno);
  }
  if (::fsync(fd.get()) != 0) return "cannot sync " + temp.string() + ": " + errno_text(errno);
  if (!fd.close()) return "cannot close " + temp.string() + ": " + errno_text(errno);
  return {};
}

}  // namespace

std::optional<WriteFailure> write_file_atomically(const std::filesystem::path& file,
                                                  std::string_view bytes) {
  const std::filesystem::path target = resolved_target(file);
  std::string problem;
  auto [fd, temp] = create_temporary(target, &problem);
  if (fd.get() < 0) return WriteFailure{file, problem};
  problem = fill(fd, temp, target, bytes);
  if (problem.empty() && std::rename(temp.c_str(), target.c_str()) != 0) {
    problem = "cannot rename " + temp.string() + " into place: " + errno_text(errno);
  }
  if (problem.empty()) return std::nullopt;
  ::unlink(temp.c_str());
  return WriteFailure{file, problem};
}

bool is_orphaned_temporary(std::string_view name) {
  constexpr std::string_view kPrefix = ".tmp-";
  if (name.substr(0, kPrefix.size()) != kPrefix) return false;
  name.remove_prefix(kPrefix.size());
  const std::size_t digits = name.find_first_not_of("0123456789");
  if (digits == 0 || digits == std::string_view::npos || name[digits] != '-' || digits > 9) {
    return false;
  }
  const pid_t pid = static_cast<pid_t>(std::stol(std::string(name.substr(0, digits))));
  return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace spdec::lang
