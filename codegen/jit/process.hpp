// Runs a program and collects what it prints (internal to codegen/jit).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace spdec::jit::detail {

struct ProcessResult {
  int exit_code = 0;   ///< the exit status; 128 + N when killed by signal N
  std::string output;  ///< stdout and stderr, interleaved as written
};

/// Runs argv[0] (an absolute path, or a name looked up in PATH) with the
/// given arguments in working directory cwd (empty: the current one), stdin
/// from /dev/null. Throws JitError when the program cannot be started.
/// The program gets SIGKILL when spdec dies (PR_SET_PDEATHSIG), so a killed
/// compile leaves no compiler behind; what the program itself started (gcc's
/// cc1plus) is not signalled and ends with its own step.
[[nodiscard]] ProcessResult run_process(const std::vector<std::string>& argv,
                                        const std::filesystem::path& cwd);

/// The command line for messages, arguments with spaces quoted.
[[nodiscard]] std::string command_line(const std::vector<std::string>& argv);

}  // namespace spdec::jit::detail
