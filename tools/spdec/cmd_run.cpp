// spdec run JOB RUN.toml [...]: the LibTorch jobs live in the sibling
// executable `spdec-run` (so that check/fmt/compile start in milliseconds);
// this command hands its arguments over with exec.
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tools/spdec/commands.hpp"

namespace spdec::cli {
namespace {

std::filesystem::path sibling(const std::string& name) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::path(name) : self.parent_path() / name;
}

int exec_run(const std::vector<std::string>& arguments) {
  const std::filesystem::path program = sibling("spdec-run");
  if (!std::filesystem::exists(program)) {
    std::cerr << "spdec run: " << program.string()
              << " is missing: this spdec was built without LibTorch (the runtime). Install "
                 "libtorch-dev and rebuild (tools/setup.sh).\n";
    return 1;
  }
  std::vector<std::string> argv_storage{program.string()};
  argv_storage.insert(argv_storage.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  argv.reserve(argv_storage.size() + 1);
  for (std::string& argument : argv_storage) argv.push_back(argument.data());
  argv.push_back(nullptr);
  ::execv(program.c_str(), argv.data());
  std::cerr << "spdec run: cannot execute " << program.string() << ": " << std::strerror(errno)
            << "\n";
  return 1;
}

}  // namespace

void add_run_command(CLI::App& app, Outcome& outcome) {
  CLI::App* cmd = app.add_subcommand("run",
                                     "Run a job of a run (.toml): forward, train, sample, edit, "
                                     "classifier, autoencoder, eval; `spdec run --help` lists "
                                     "them");
  cmd->prefix_command();
  cmd->set_help_flag();  // --help goes to spdec-run
  cmd->callback([cmd, &outcome] { outcome.exit_code = exec_run(cmd->remaining()); });
}

}  // namespace spdec::cli
