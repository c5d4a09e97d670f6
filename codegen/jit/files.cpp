#include "codegen/jit/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

namespace spdec::jit::detail {
namespace {

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&&) = delete;
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// A writable, NUL-terminated copy of a path for mkstemp/mkdtemp.
std::vector<char> template_buffer(const std::filesystem::path& path) {
  const std::string& text = path.native();
  std::vector<char> buffer(text.begin(), text.end());
  buffer.push_back('\0');
  return buffer;
}

}  // namespace

std::optional<std::string> read_file(const std::filesystem::path& path) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));  // NOLINT(*-vararg): POSIX open
  if (fd.get() < 0) {
    return std::nullopt;
  }
  std::string bytes;
  std::vector<char> chunk(std::size_t{1} << 16U);
  for (;;) {
    const ssize_t n = ::read(fd.get(), chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return std::nullopt;
    }
    if (n == 0) {
      return bytes;
    }
    bytes.append(chunk.data(), static_cast<std::size_t>(n));
  }
}

bool rename_file(const std::filesystem::path& from, const std::filesystem::path& to,
                 std::string* error) {
  if (std::rename(from.c_str(), to.c_str()) == 0) {
    return true;
  }
  *error = "cannot rename " + from.string() + " to " + to.string() + ": " + errno_text(errno);
  return false;
}

std::optional<TempDir> TempDir::create(const std::filesystem::path& parent,
                                       const std::string& prefix, std::string* error) {
  std::vector<char> name = template_buffer(parent / (prefix + "XXXXXX"));
  if (::mkdtemp(name.data()) == nullptr) {
    *error = "cannot create a directory in " + parent.string() + ": " + errno_text(errno);
    return std::nullopt;
  }
  return TempDir(std::filesystem::path(name.data()));
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

TempDir::~TempDir() { remove(); }

void TempDir::remove() noexcept {
  if (!path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
    path_.clear();
  }
}

}  // namespace spdec::jit::detail
