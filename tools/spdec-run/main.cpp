// spdec-run: the jobs that need LibTorch (`spdec run forward|...`). A separate
// executable so that `spdec check|fmt|compile` never pay LibTorch's start-up
// (about a second): `spdec run ARGS` executes `spdec-run ARGS` from the same
// directory.
#include <CLI/CLI.hpp>
#include <iostream>
#include <spdec/build_info.hpp>
#include <string>
#include <vector>

#include "lang/diagnostics.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/forward_run.hpp"

namespace {

struct JobArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::vector<std::string> inputs;
  std::string backend;
};

/// The run config with the command line's overrides; nullopt after printing
/// the diagnostics.
std::optional<spdec::config::RunConfig> load(const JobArgs& args,
                                             std::optional<spdec::lang::Process>& process) {
  spdec::lang::Diagnostics diagnostics;
  std::vector<std::string> overrides = args.overrides;
  if (!args.backend.empty()) overrides.push_back("process.backend=\"" + args.backend + "\"");
  auto config = spdec::config::load_run_config(args.config, overrides, diagnostics);
  if (config) {
    if (!args.inputs.empty()) config->forward.input = args.inputs;
    process = spdec::config::check_process(*config, diagnostics);
  }
  std::cerr << spdec::lang::render_all(diagnostics, {false});
  if (!config || !process) return std::nullopt;
  return config;
}

int run_forward(const JobArgs& args) {
  std::optional<spdec::lang::Process> process;
  const auto config = load(args, process);
  if (!config) return 1;
  spdec::config::save_resolved(*config);
  (void)spdec::runtime::run_forward(*config, *process, std::cout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spdec run: simulate, train, sample and evaluate a run (.toml)", "spdec run"};
  app.require_subcommand(1);
  int exit_code = 0;
  auto args = std::make_shared<JobArgs>();
  CLI::App* forward = app.add_subcommand(
      "forward", "Simulate the process on a few images: forward.png, forward.npy, forward.json");
  forward->add_option("config", args->config, "the run's .toml file")->required();
  forward->add_option("overrides", args->overrides, "section.key=value overrides");
  forward->add_option("--input", args->inputs, "image files to use instead of the data set");
  forward->add_option("--backend", args->backend, "compiled | reference | auto")
      ->check(CLI::IsMember({"auto", "compiled", "reference"}));
  forward->callback([args, &exit_code] { exit_code = run_forward(*args); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "spdec run: error: " << e.what() << "\n";
    return 1;
  }
  return exit_code;
}
