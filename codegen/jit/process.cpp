#include "codegen/jit/process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "codegen/jit/error.hpp"
#include "codegen/jit/files.hpp"

namespace spdec::jit::detail {
namespace {

// posix_spawn file actions, destroyed on scope exit.
class FileActions {
 public:
  FileActions() { ::posix_spawn_file_actions_init(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  FileActions(FileActions&&) = delete;
  FileActions& operator=(FileActions&&) = delete;
  ~FileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_{};
};

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
  // One pipe for stdout and stderr. Close-on-exec, so that a child spawned by
  // another thread at the same time does not inherit the write end (it would
  // hold back our end-of-file); dup2 in the child clears the flag on 1 and 2.
  std::array<int, 2> pipe_fds{-1, -1};
  if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
    throw JitError("cannot run " + argv.at(0) + ": pipe: " + errno_text(errno));
  }
  FileActions actions;
  ::posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(actions.get(), pipe_fds[1], 1);
  ::posix_spawn_file_actions_adddup2(actions.get(), pipe_fds[1], 2);
  if (!cwd.empty()) {
    ::posix_spawn_file_actions_addchdir_np(actions.get(), cwd.c_str());
  }
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));  // NOLINT: posix_spawn's C signature
  }
  args.push_back(nullptr);

  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], actions.get(), nullptr, args.data(), environ);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    throw JitError("cannot run " + argv[0] + ": " + errno_text(rc));
  }
  ProcessResult result;
  result.output = read_until_eof(pipe_fds[0]);
  ::close(pipe_fds[0]);
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
