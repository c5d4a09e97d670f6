// spdec run JOB RUN.toml [...]: the LibTorch jobs live in the sibling
// executable `spdec-run` (so that check/fmt/compile start in milliseconds);
// this command hands its arguments over with exec.
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
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

/// libgomp's idle threads spin about 300,000 times before they sleep, which
/// pays when a process has the cores to itself and collapses when two
/// OpenMP processes share them: each spins on a core the other needs.
/// Measured on a 2-core machine (docs/results.md, "OpenMP threads on shared
/// cores"; quickstart training, 2 threads, ms per step): alone 94-97 with
/// libgomp's default, 100-103 with 1000 spins, 159-165 with
/// OMP_WAIT_POLICY=PASSIVE; two runs at once 675-958 with the default,
/// 331-359 with 1000 spins. So 1000 spins (what libgomp itself uses when it
/// sees more threads than CPUs, which it cannot see across processes) is
/// the default of `spdec run`; a user's GOMP_SPINCOUNT or OMP_WAIT_POLICY
/// is kept.
void default_openmp_spin() {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  ::setenv("GOMP_SPINCOUNT", "1000", /*overwrite=*/0);  // a user's GOMP_SPINCOUNT stays
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
  default_openmp_spin();
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
