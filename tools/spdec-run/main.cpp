// spdec-run: the jobs that need LibTorch (`spdec run forward|...`). A separate
// executable so that `spdec check|fmt|compile` never pay LibTorch's start-up
// (about a second): `spdec run ARGS` executes `spdec-run ARGS` from the same
// directory.
//
// train, sample and eval also run as ranks of a data-parallel job: started
// by torchrun (or any launcher that sets its RANK, WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT), or by `--nproc N`, which makes this process the launcher of N
// ranks on this machine (runtime/distributed/local_launcher.hpp). Rank 0
// speaks; the others print only their own errors.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <spdec/build_info.hpp>
#include <streambuf>
#include <string>
#include <vector>

#include "lang/diagnostics.hpp"
#include "runtime/base/run_lock.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/distributed/launch_env.hpp"
#include "runtime/distributed/local_launcher.hpp"
#include "runtime/distributed/rank_group.hpp"
#include "runtime/run/autoencoder_run.hpp"
#include "runtime/run/classifier_run.hpp"
#include "runtime/run/edit_run.hpp"
#include "runtime/run/eval_run.hpp"
#include "runtime/run/forward_run.hpp"
#include "runtime/run/run_setup.hpp"
#include "runtime/run/sample_run.hpp"
#include "runtime/run/train_run.hpp"

namespace {

struct JobArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::vector<std::string> params;  ///< -p NAME=VALUE: process.params.NAME=VALUE
  std::vector<std::string> inputs;
  std::string backend;
  std::string checkpoint;
  bool fresh = false;
  int nproc = 0;  ///< --nproc: launch this many local ranks of the job
};

/// The command line as main received it (--nproc's ranks rerun it without --nproc).
std::vector<std::string> g_command_line;

std::optional<spdec::config::RunConfig> load_config(const JobArgs& args,
                                                    std::optional<spdec::lang::Process>& process,
                                                    bool quiet = false);

/// A loaded job: its config, its process, and the run directory's lock,
/// held until the job returns (every job writes into run.dir; of a job on
/// several ranks, rank 0 alone).
struct Job {
  spdec::config::RunConfig config;
  spdec::lang::Process process;
  std::optional<spdec::runtime::RunDirLock> lock;
};

/// The run config with the command line's overrides, with run.dir locked for
/// `name`; nullopt after printing the diagnostics or the refusal (another
/// job holds run.dir).
std::optional<Job> load(const JobArgs& args, const std::string& name) {
  std::optional<spdec::lang::Process> process;
  auto config = load_config(args, process);
  if (!config) return std::nullopt;
  try {
    Job job{std::move(*config), std::move(*process), std::nullopt};
    job.lock.emplace(job.config.run.dir, name);
    return job;
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

/// The hint for a process parameter written the way `spdec check` takes it.
constexpr const char* kParamHint =
    "a process parameter is -p NAME=VALUE, the same as the override process.params.NAME=VALUE "
    "(e.g. -p K=0.05 or process.params.K=0.05); other settings are section.key=value "
    "(specs/RUN_CONFIG.md)";

/// `-p NAME=VALUE` as the override process.params.NAME=VALUE (after the
/// section.key=value ones, so -p wins where both set a param); a malformed
/// item is reported as a config error would be.
bool param_overrides(const std::vector<std::string>& params, std::vector<std::string>& overrides,
                     spdec::lang::Diagnostics& diagnostics) {
  bool ok = true;
  for (const std::string& item : params) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || item.find('.') < eq) {
      auto line = std::make_shared<const spdec::lang::SourceFile>("<command line>", "-p " + item);
      diagnostics.error("C005", line, {3, static_cast<std::uint32_t>(3 + item.size())},
                        "expected -p NAME=VALUE, a parameter the .spde declares", kParamHint);
      ok = false;
      continue;
    }
    overrides.push_back("process.params." + item);
  }
  return ok;
}

/// Every override of the command line: section.key=value, then -p's, then
/// --backend's; nullopt after printing a malformed -p.
std::optional<std::vector<std::string>> all_overrides(const JobArgs& args) {
  spdec::lang::Diagnostics diagnostics;
  std::vector<std::string> overrides = args.overrides;
  if (!param_overrides(args.params, overrides, diagnostics)) {
    std::cerr << spdec::lang::render_all(diagnostics, {false});
    return std::nullopt;
  }
  if (!args.backend.empty()) overrides.push_back("process.backend=\"" + args.backend + "\"");
  return overrides;
}

/// The run config with the command line's overrides; nullopt after printing
/// the diagnostics (unless `quiet`: a rank other than 0, whose diagnostics
/// are rank 0's).
std::optional<spdec::config::RunConfig> load_config(const JobArgs& args,
                                                    std::optional<spdec::lang::Process>& process,
                                                    bool quiet) {
  spdec::lang::Diagnostics diagnostics;
  const auto overrides = all_overrides(args);
  if (!overrides) return std::nullopt;
  auto config = spdec::config::load_run_config(args.config, *overrides, diagnostics);
  if (config) {
    if (!args.inputs.empty()) config->forward.input = args.inputs;
    process = spdec::config::check_process(*config, diagnostics);
  }
  if (!quiet) std::cerr << spdec::lang::render_all(diagnostics, {false});
  if (!config || !process) return std::nullopt;
  return config;
}

/// Discards what is written to it: the standard output of ranks other than 0.
class Discard : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
};

/// The command line without --nproc (and its value): what each rank runs.
std::vector<std::string> without_nproc(const std::vector<std::string>& command) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < command.size(); ++i) {
    if (command[i] == "--nproc") {
      ++i;  // its value
      continue;
    }
    if (command[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(command[i]);
  }
  return out;
}

/// `--nproc N`: this process becomes the launcher of N ranks of the same
/// command; the config is checked here first, so that its errors are said
/// once, not N times.
int launch_ranks(const JobArgs& args, const std::string& name) {
  namespace rt = spdec::runtime;
  std::optional<spdec::lang::Process> process;
  const auto config = load_config(args, process);
  if (!config) return 1;
  try {
    if (rt::read_launch_env()) {
      std::cerr << "spdec run " << name
                << ": error: --nproc inside a rank of a launched job (RANK and WORLD_SIZE are "
                   "set): drop --nproc, or run it outside torchrun\n";
      return 1;
    }
    rt::LocalLaunch launch;
    launch.ranks = args.nproc;
    launch.program = std::filesystem::read_symlink("/proc/self/exe").string();
    launch.arguments = without_nproc(g_command_line);
    launch.job = name;
    launch.timeout = std::chrono::milliseconds(
        static_cast<std::int64_t>(config->train.distributed.timeout * 1000.0));
    return rt::launch_local_ranks(launch, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "spdec run " << name << ": error: " << e.what() << "\n";
    return 1;
  }
}

/// Joins the data-parallel job this process is a rank of, when torchrun's
/// variables say it is one; a group of one otherwise.
std::unique_ptr<spdec::runtime::RankGroup> join_ranks(
    const std::optional<spdec::runtime::LaunchEnv>& env, const spdec::config::RunConfig& config) {
  namespace rt = spdec::runtime;
  if (!env) return std::make_unique<rt::RankGroup>();
  rt::GroupOptions options;
  options.backend = config.train.distributed.backend;
  options.timeout = std::chrono::milliseconds(
      static_cast<std::int64_t>(config.train.distributed.timeout * 1000.0));
  options.cuda = rt::choose_device(config.run.device).is_cuda();
  return rt::RankGroup::join(*env, options);
}

/// A job that runs alone or as a rank: loads the config (rank 0 alone locks
/// run.dir and speaks), joins the ranks, runs `body`. A rank's error is left
/// for the others (which name it) and printed with its rank; errors every
/// rank hits alike (a diverged run) are printed by rank 0 alone.
int run_ranked(const JobArgs& args, const std::string& name,
               const std::function<int(Job&, spdec::runtime::RankGroup&)>& body) {
  namespace rt = spdec::runtime;
  if (args.nproc > 1) return launch_ranks(args, name);
  std::optional<rt::LaunchEnv> env;
  try {
    env = rt::read_launch_env();
  } catch (const std::exception& e) {
    std::cerr << "spdec run " << name << ": error: " << e.what() << "\n";
    return 1;
  }
  const bool root = !env || env->rank == 0;
  static Discard discard;
  if (!root) std::cout.rdbuf(&discard);
  const std::string place =
      env ? " (rank " + std::to_string(env->rank) + " of " + std::to_string(env->world_size) + ")"
          : "";
  std::optional<Job> job;
  std::unique_ptr<rt::RankGroup> ranks;
  try {
    std::optional<spdec::lang::Process> process;
    auto config = load_config(args, process, !root);
    if (!config) return 1;
    ranks = join_ranks(env, *config);
    job.emplace(Job{std::move(*config), std::move(*process), std::nullopt});
  } catch (const std::exception& e) {
    std::cerr << "spdec run " << name << place << ": error: " << e.what() << "\n";
    return 1;
  }
  if (root) {
    try {
      job->lock.emplace(job->config.run.dir, name);
    } catch (const std::exception& e) {
      ranks->report_failure(e.what());
      std::cerr << "spdec run " << name << ": error: " << e.what() << "\n";
      return 1;
    }
  }
  if (!env) return body(*job, *ranks);  // one process: errors reach main as before
  try {
    return body(*job, *ranks);
  } catch (const rt::RankFailure& e) {
    // Another rank's failure, named in the message; not left in the store,
    // so that the remaining ranks blame the rank that caused it, not this one.
    std::cerr << "spdec run " << name << ": error: " << e.what() << "\n";
  } catch (const rt::TrainingDiverged& e) {
    ranks->report_failure(e.what());
    if (root) std::cerr << "spdec run " << name << ": error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    ranks->report_failure(e.what());
    std::cerr << "spdec run " << name << place << ": error: " << e.what() << "\n";
  }
  return 1;
}

int run_forward(const JobArgs& args) {
  const auto job = load(args, "forward");
  if (!job) return 1;
  save_job_config(job->config, "forward");
  (void)spdec::runtime::run_forward(job->config, job->process, std::cout);
  return 0;
}

int run_train(const JobArgs& args) {
  return run_ranked(args, "train", [&args](Job& job, spdec::runtime::RankGroup& ranks) {
    try {
      spdec::runtime::TrainHooks hooks;
      hooks.fresh = args.fresh;
      const auto summary =
          spdec::runtime::run_train(job.config, job.process, std::cout, hooks, ranks);
      // 130: stopped by a signal (the checkpoint is written; run again to resume).
      return summary.interrupted && summary.steps < job.config.train.steps ? 130 : 0;
    } catch (const spdec::runtime::TrainingDiverged& e) {
      if (ranks.size() > 1) throw;  // run_ranked says it once
      std::cerr << "spdec run train: error: " << e.what() << "\n";
      return 1;
    }
  });
}

/// Whether an override's key lies in the sections a trained run fixes.
bool overrides_trained_section(const std::string& item) {
  const std::string key = item.substr(0, item.find('='));
  for (const std::string& section : spdec::config::kTrainedSections) {
    if (key.rfind(section + ".", 0) == 0) return true;
  }
  return false;
}

/// `spdec run sample` (and `eval`, which samples) on a trained run: when the sampled checkpoint's
/// folder holds the config.toml that `train` wrote beside it, and the spec names that run
/// (spdec::config::is_same_run), [process], [data], [model], [autoencoder] and [train] come from
/// it, with this command line's overrides of them on top, so that the overrides of the training
/// need not be repeated; [sample] and the rest stay the spec's. False after printing why the job
/// cannot run.
bool adopt_trained_run(Job& job, const JobArgs& args, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path checkpoint = job.config.sample.checkpoint.empty()
                                  ? spdec::config::run_path(job.config, "checkpoint.pt")
                                  : fs::path(job.config.sample.checkpoint);
  const fs::path stored = checkpoint.parent_path() / "config.toml";
  // config.toml beside checkpoint.pt is train's: forward and classifier
  // write theirs only where no checkpoint is (specs/RUN_CONFIG.md).
  std::error_code ec;
  if (!fs::exists(stored, ec) || !fs::exists(checkpoint.parent_path() / "checkpoint.pt", ec)) {
    return true;
  }
  const auto overrides = all_overrides(args);
  if (!overrides) return false;
  std::vector<std::string> trained_overrides;
  for (const std::string& item : *overrides) {
    if (overrides_trained_section(item)) trained_overrides.push_back(item);
  }
  spdec::lang::Diagnostics diagnostics;
  const auto trained =
      spdec::config::load_run_config(stored.string(), trained_overrides, diagnostics);
  if (!trained) {
    // Not fatal: the spec may still be the checkpoint's run (the checkpoint
    // check refuses it, saying what differs, when it is not).
    std::cout << name << ": the trained run's " << stored.string()
              << " does not load; sampling with the spec as given:\n"
              << spdec::lang::render_all(diagnostics, {false});
    return true;
  }
  if (!spdec::config::is_same_run(job.config, *trained)) {
    std::cout << name << ": " << stored.string() << " is run \"" << trained->run.name << "\" of "
              << trained->process.file << ", not this spec's; sampling with the spec as given "
              << "(for that run: spdec run " << name << " " << stored.string() << ")" << std::endl;
    return true;
  }
  spdec::config::RunConfig merged = spdec::config::with_trained_run(job.config, *trained);
  // [train] is taken too (a sample job reads none of it), but only what
  // shapes the samples is worth a line.
  const auto ignored = spdec::config::differing_keys(job.config, merged,
                                                     {"process", "data", "model", "autoencoder"});
  std::cout << name
            << ": [process], [data], [model], [autoencoder] and [train] from the trained run's "
            << stored.string();
  if (!ignored.empty()) {
    std::cout << "; the spec's values that differ are not used (override them on the command "
                 "line to change them):";
    for (const auto& d : ignored) {
      std::cout << "\n  " << d.key << " = " << d.first << " (the run: " << d.second << ")";
    }
  }
  std::cout << std::endl;
  auto process = spdec::config::check_process(merged, diagnostics);
  if (!process) {
    std::cerr << spdec::lang::render_all(diagnostics, {false});
    return false;
  }
  job.config = std::move(merged);
  job.process = std::move(*process);
  return true;
}

/// The job's arguments with --checkpoint as sample.checkpoint.
JobArgs with_checkpoint(const JobArgs& args) {
  JobArgs full = args;
  if (!args.checkpoint.empty()) {
    full.overrides.push_back("sample.checkpoint=\"" + args.checkpoint + "\"");
  }
  return full;
}

/// A one-process job that draws from a trained run (edit): the trained
/// run's config adopted.
std::optional<Job> load_trained(const JobArgs& args, const std::string& name) {
  const JobArgs full = with_checkpoint(args);
  auto job = load(full, name);
  if (!job || !adopt_trained_run(*job, full, name)) return std::nullopt;
  return job;
}

int run_sample(const JobArgs& args) {
  const JobArgs full = with_checkpoint(args);
  return run_ranked(full, "sample", [&full](Job& job, spdec::runtime::RankGroup& ranks) {
    if (!adopt_trained_run(job, full, "sample")) return 1;
    (void)spdec::runtime::run_sample(job.config, job.process, std::cout, ranks);
    return 0;
  });
}

int run_edit(const JobArgs& args) {
  auto job = load_trained(args, "edit");
  if (!job) return 1;
  (void)spdec::runtime::run_edit(job->config, job->process, args.inputs, std::cout);
  return 0;
}

int run_classifier(const JobArgs& args) {
  const auto job = load(args, "classifier");
  if (!job) return 1;
  save_job_config(job->config, "classifier");
  (void)spdec::runtime::run_classifier(job->config, std::cout);
  return 0;
}

int run_autoencoder(const JobArgs& args) {
  const auto job = load(args, "autoencoder");
  if (!job) return 1;
  save_job_config(job->config, "autoencoder");
  (void)spdec::runtime::run_autoencoder(job->config, std::cout);
  return 0;
}

int run_eval(const JobArgs& args) {
  return run_ranked(args, "eval", [&args](Job& job, spdec::runtime::RankGroup& ranks) {
    if (!adopt_trained_run(job, args, "eval")) return 1;
    (void)spdec::runtime::run_eval(job.config, job.process, std::cout, ranks);
    return 0;
  });
}

/// The options every job takes.
CLI::App* add_job(CLI::App& app, const std::string& name, const std::string& help, JobArgs& args) {
  CLI::App* job = app.add_subcommand(name, help);
  job->add_option("config", args.config, "the run's .toml file")->required();
  job->add_option("overrides", args.overrides, "section.key=value overrides");
  // One NAME=VALUE per -p (allow_extra_args false): `-p K=1 train.steps=5`
  // leaves train.steps=5 to the overrides.
  job->add_option("-p,--param", args.params,
                  "override a process parameter: NAME=VALUE, the same as "
                  "process.params.NAME=VALUE (repeatable)")
      ->allow_extra_args(false);
  job->add_option("--backend", args.backend, "compiled | reference | auto")
      ->check(CLI::IsMember({"auto", "compiled", "reference"}));
  return job;
}

/// --nproc N: the job on N ranks of this machine (train, sample, eval).
void add_nproc(CLI::App* job, JobArgs& args) {
  job->add_option("--nproc", args.nproc,
                  "run the job on N local ranks (data parallel over c10d, as torchrun "
                  "--nproc-per-node N would start it); each gets its share of run.threads")
      ->check(CLI::Range(1, 4096));
}

}  // namespace

int main(int argc, char** argv) {
  g_command_line.assign(argv, argv + argc);
  CLI::App app{"spdec run: simulate, train, sample and evaluate a run (.toml)", "spdec run"};
  app.require_subcommand(1);
  int exit_code = 0;
  auto args = std::make_shared<JobArgs>();
  CLI::App* forward = add_job(
      app, "forward",
      "Simulate the process on a few images: forward.png, forward.npy, forward.json", *args);
  // One file per --input (allow_extra_args false), so that overrides may
  // follow it: `--input a.png train.steps=5`.
  forward
      ->add_option("--input", args->inputs,
                   "an image file to use instead of the data set (repeatable)")
      ->allow_extra_args(false);
  forward->callback([args, &exit_code] { exit_code = run_forward(*args); });
  CLI::App* train = add_job(app, "train",
                            "Train a score network for the run's process (resumes a run "
                            "directory that holds a checkpoint): checkpoint.pt, "
                            "train_log.jsonl, samples/",
                            *args);
  train->add_flag("--fresh", args->fresh,
                  "start at step 0 even where run.dir holds a run's history, discarding its "
                  "checkpoint.pt, train_log.jsonl and samples");
  add_nproc(train, *args);
  train->callback([args, &exit_code] { exit_code = run_train(*args); });
  CLI::App* sample =
      add_job(app, "sample", "Draw images from a trained run: samples.png, samples.npy", *args);
  sample->add_option("--checkpoint", args->checkpoint,
                     "a checkpoint file (default: the run directory's checkpoint.pt)");
  add_nproc(sample, *args);
  sample->callback([args, &exit_code] { exit_code = run_sample(*args); });
  CLI::App* edit = add_job(
      app, "edit",
      "Edit guide images with a trained run (SDEdit): push them to a strength of the time range "
      "and sample back; edit.png (guides, a strength sweep, seeds), edit.npy, edit.json",
      *args);
  edit->add_option("--input", args->inputs,
                   "a guide image file (repeatable; default: data images of the held-out split "
                   "made stroke paintings)")
      ->allow_extra_args(false);
  edit->add_option("--checkpoint", args->checkpoint,
                   "a checkpoint file (default: the run directory's checkpoint.pt)");
  edit->callback([args, &exit_code] { exit_code = run_edit(*args); });
  CLI::App* classifier = add_job(
      app, "classifier",
      "Train the evaluation classifier on the run's labelled data ([train] steps, batch_size, lr, "
      "seed): classifier.pt, its test accuracy",
      *args);
  classifier->callback([args, &exit_code] { exit_code = run_classifier(*args); });
  CLI::App* autoencoder = add_job(
      app, "autoencoder",
      "Train the run's autoencoder ([autoencoder]) for a latent space: model.autoencoder (default "
      "autoencoder.pt), its reconstruction PSNR / SSIM / FID in autoencoder.json and "
      "autoencoder.png",
      *args);
  autoencoder->callback([args, &exit_code] { exit_code = run_autoencoder(*args); });
  CLI::App* eval = add_job(app, "eval",
                           "FID / KID / IS of the run's samples in the classifier's feature space "
                           "(eval.classifier): metrics.json",
                           *args);
  add_nproc(eval, *args);
  eval->callback([args, &exit_code] { exit_code = run_eval(*args); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError& e) {
    // An option spdec run does not know: often a parameter written the way
    // another tool takes it (--params, -P, --set).
    (void)app.exit(e);
    std::cerr << "hint: `spdec run JOB --help` lists the options; " << kParamHint << "\n";
    return 1;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "spdec run: error: " << e.what() << "\n";
    return 1;
  }
  return exit_code;
}
