#include "codegen/jit/process.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>

#include "codegen/jit/error.hpp"
#include "codegen/jit/files.hpp"

namespace spdec::jit::detail {
namespace {

/// argv[0] as a path to execute: itself when it names a directory part,
/// else the first executable of that name on PATH (searched here, before
/// fork: the child may only make async-signal-safe calls). Empty when none.
std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): read only
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t begin = 0;
  while (begin <= dirs.size()) {
    std::size_t end = dirs.find(':', begin);
    if (end == std::string::npos) end = dirs.size();
    const std::string dir = end > begin ? dirs.substr(begin, end - begin) : ".";
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    begin = end + 1;
  }
  return {};
}

/// In the forked child: only async-signal-safe calls until execv. The child
/// dies with its parent (PR_SET_PDEATHSIG): a killed spdec must not leave a
/// compiler running. On failure, errno goes to `error_fd` and it exits.
[[noreturn]] void exec_child(const char* program, char* const* args, const char* cwd, int output_fd,
                             int error_fd, pid_t parent) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
  // Close-on-exec: dup2 makes fd 0 a copy without the flag, so the compiler
  // inherits /dev/null once, as its stdin.
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // NOLINT(*-vararg): POSIX open
  const bool ready = null_fd >= 0 && ::dup2(null_fd, 0) == 0 && ::dup2(output_fd, 1) == 1 &&
                     ::dup2(output_fd, 2) == 2 && (cwd == nullptr || ::chdir(cwd) == 0);
  if (ready) ::execv(program, args);
  const int code = errno;
  (void)!::write(error_fd, &code, sizeof code);
  ::_exit(127);
}

/// The errno the child sent before failing to start the program; 0 once
/// the exec closed the pipe (it is close-on-exec).
int read_start_error(int fd) {
  int code = 0;
  for (;;) {
    const ssize_t n = ::read(fd, &code, sizeof code);
    if (n < 0 && errno == EINTR) continue;
    return n == static_cast<ssize_t>(sizeof code) ? code : 0;
  }
}

std::string read_until_eof(int fd) {
  std::string output;
  std::array<char, 4096> chunk{};
  for (;;) {
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return output;
    }
    output.append(chunk.data(), static_cast<std::size_t>(n));
  }
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return 127;
    }
  }
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 127;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const std::filesystem::path& cwd) {
  // Close-on-exec pipes: the output (stdout and stderr), so that a child
  // spawned by another thread at the same time does not inherit the write
  // end (it would hold back our end-of-file; dup2 in the child clears the
  // flag on 1 and 2); and the start error, whose end-of-file says the exec
  // happened.
  std::array<int, 2> output{-1, -1};
  std::array<int, 2> start{-1, -1};
  if (::pipe2(output.data(), O_CLOEXEC) != 0 || ::pipe2(start.data(), O_CLOEXEC) != 0) {
    const int code = errno;
    for (const int fd : {output[0], output[1]}) {
      if (fd >= 0) ::close(fd);
    }
    throw JitError("cannot run " + argv.at(0) + ": pipe: " + errno_text(code));
  }
  const std::string program = resolve_program(argv.at(0));
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));  // NOLINT: execv's C signature
  }
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = program.empty() ? -1 : ::fork();
  if (pid == 0) {
    exec_child(program.c_str(), args.data(), cwd.empty() ? nullptr : cwd.c_str(), output[1],
               start[1], parent);
  }
  const int fork_error = program.empty() ? ENOENT : errno;
  ::close(output[1]);
  ::close(start[1]);
  const int start_error = pid < 0 ? fork_error : read_start_error(start[0]);
  ::close(start[0]);
  if (start_error != 0) {
    ::close(output[0]);
    if (pid > 0) (void)wait_for(pid);
    throw JitError("cannot run " + argv[0] + ": " + errno_text(start_error));
  }
  ProcessResult result;
  result.output = read_until_eof(output[0]);
  ::close(output[0]);
  result.exit_code = wait_for(pid);
  return result;
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) {
    if (!text.empty()) {
      text += ' ';
    }
    const bool quote = arg.empty() || arg.find_first_of(" \t'\"") != std::string::npos;
    text += quote ? "'" + arg + "'" : arg;
  }
  return text;
}

}  // namespace spdec::jit::detail
