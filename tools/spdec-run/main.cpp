// spdec-run: the jobs that need LibTorch (`spdec run forward|...`). A separate
// executable so that `spdec check|fmt|compile` never pay LibTorch's start-up
// (about a second): `spdec run ARGS` executes `spdec-run ARGS` from the same
// directory.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <spdec/build_info.hpp>
#include <string>
#include <vector>

#include "lang/diagnostics.hpp"
#include "runtime/base/run_lock.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/run/classifier_run.hpp"
#include "runtime/run/eval_run.hpp"
#include "runtime/run/forward_run.hpp"
#include "runtime/run/sample_run.hpp"
#include "runtime/run/train_run.hpp"

namespace {

struct JobArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::vector<std::string> inputs;
  std::string backend;
  std::string checkpoint;
  bool fresh = false;
};

std::optional<spdec::config::RunConfig> load_config(const JobArgs& args,
                                                    std::optional<spdec::lang::Process>& process);

/// A loaded job: its config, its process, and the run directory's lock,
/// held until the job returns (every job writes into run.dir).
struct Job {
  spdec::config::RunConfig config;
  spdec::lang::Process process;
  spdec::runtime::RunDirLock lock;
};

/// The run config with the command line's overrides, with run.dir locked for
/// `name`; nullopt after printing the diagnostics or the refusal (another
/// job holds run.dir).
std::optional<Job> load(const JobArgs& args, const std::string& name) {
  std::optional<spdec::lang::Process> process;
  auto config = load_config(args, process);
  if (!config) return std::nullopt;
  try {
    spdec::runtime::RunDirLock lock(config->run.dir, name);
    return Job{std::move(*config), std::move(*process), std::move(lock)};
  } catch (const std::exception& e) {
    std::cerr << "spdec run " << name << ": error: " << e.what() << "\n";
    return std::nullopt;
  }
}

/// The resolved config of a job that is not `train`: config.toml, unless a
/// checkpoint.pt lies beside it (config.toml is then the trained run's and
/// stays as it is): <job>.toml then.
void save_job_config(const spdec::config::RunConfig& config, const std::string& name) {
  const std::filesystem::path checkpoint = spdec::config::run_path(config, "checkpoint.pt");
  const bool trained = std::filesystem::exists(std::filesystem::symlink_status(checkpoint));
  (void)spdec::config::save_resolved(config, trained ? name + ".toml" : "config.toml");
}

/// The run config with the command line's overrides; nullopt after printing
/// the diagnostics.
std::optional<spdec::config::RunConfig> load_config(const JobArgs& args,
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
  const auto job = load(args, "forward");
  if (!job) return 1;
  save_job_config(job->config, "forward");
  (void)spdec::runtime::run_forward(job->config, job->process, std::cout);
  return 0;
}

int run_train(const JobArgs& args) {
  const auto job = load(args, "train");
  if (!job) return 1;
  try {
    spdec::runtime::TrainHooks hooks;
    hooks.fresh = args.fresh;
    const auto summary = spdec::runtime::run_train(job->config, job->process, std::cout, hooks);
    // 130: stopped by a signal (the checkpoint is written; run again to resume).
    return summary.interrupted && summary.steps < job->config.train.steps ? 130 : 0;
  } catch (const spdec::runtime::TrainingDiverged& e) {
    std::cerr << "spdec run train: error: " << e.what() << "\n";
    return 1;
  }
}

int run_sample(const JobArgs& args) {
  JobArgs with_checkpoint = args;
  if (!args.checkpoint.empty()) {
    with_checkpoint.overrides.push_back("sample.checkpoint=\"" + args.checkpoint + "\"");
  }
  const auto job = load(with_checkpoint, "sample");
  if (!job) return 1;
  (void)spdec::runtime::run_sample(job->config, job->process, std::cout);
  return 0;
}

int run_classifier(const JobArgs& args) {
  const auto job = load(args, "classifier");
  if (!job) return 1;
  save_job_config(job->config, "classifier");
  (void)spdec::runtime::run_classifier(job->config, std::cout);
  return 0;
}

int run_eval(const JobArgs& args) {
  const auto job = load(args, "eval");
  if (!job) return 1;
  (void)spdec::runtime::run_eval(job->config, job->process, std::cout);
  return 0;
}

/// The options every job takes.
CLI::App* add_job(CLI::App& app, const std::string& name, const std::string& help, JobArgs& args) {
  CLI::App* job = app.add_subcommand(name, help);
  job->add_option("config", args.config, "the run's .toml file")->required();
  job->add_option("overrides", args.overrides, "section.key=value overrides");
  job->add_option("--backend", args.backend, "compiled | reference | auto")
      ->check(CLI::IsMember({"auto", "compiled", "reference"}));
  return job;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spdec run: simulate, train, sample and evaluate a run (.toml)", "spdec run"};
  app.require_subcommand(1);
  int exit_code = 0;
  auto args = std::make_shared<JobArgs>();
  CLI::App* forward = add_job(
      app, "forward",
      "Simulate the process on a few images: forward.png, forward.npy, forward.json", *args);
  forward->add_option("--input", args->inputs, "image files to use instead of the data set");
  forward->callback([args, &exit_code] { exit_code = run_forward(*args); });
  CLI::App* train = add_job(app, "train",
                            "Train a score network for the run's process (resumes a run "
                            "directory that holds a checkpoint): checkpoint.pt, "
                            "train_log.jsonl, samples/",
                            *args);
  train->add_flag("--fresh", args->fresh,
                  "start at step 0 even where run.dir holds a run's history, discarding its "
                  "checkpoint.pt, train_log.jsonl and samples");
  train->callback([args, &exit_code] { exit_code = run_train(*args); });
  CLI::App* sample =
      add_job(app, "sample", "Draw images from a trained run: samples.png, samples.npy", *args);
  sample->add_option("--checkpoint", args->checkpoint,
                     "a checkpoint file (default: the run directory's checkpoint.pt)");
  sample->callback([args, &exit_code] { exit_code = run_sample(*args); });
  CLI::App* classifier = add_job(
      app, "classifier",
      "Train the evaluation classifier on the run's labelled data ([train] steps, batch_size, lr, "
      "seed): classifier.pt, its test accuracy",
      *args);
  classifier->callback([args, &exit_code] { exit_code = run_classifier(*args); });
  CLI::App* eval = add_job(app, "eval",
                           "FID / KID / IS of the run's samples in the classifier's feature space "
                           "(eval.classifier): metrics.json",
                           *args);
  eval->callback([args, &exit_code] { exit_code = run_eval(*args); });
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
