#include "runtime/run/train_run.hpp"

#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>
#include <torch/version.h>

// LibTorch 1.13's clip_grad.h names Tensor without including its header, so
// it comes after the others (a build without the precompiled header).
#include <torch/nn/utils/clip_grad.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "lang/os_reason.hpp"
#include "runtime/base/atomic_write.hpp"
#include "runtime/base/data_error.hpp"
#include "runtime/base/progress.hpp"
#include "runtime/base/shard.hpp"
#include "runtime/base/splitmix.hpp"
#include "runtime/data/batch_loader.hpp"
#include "runtime/data/image_grid.hpp"
#include "runtime/distributed/gradient_sync.hpp"
#include "runtime/nn/ema.hpp"
#include "runtime/process/preconditioner.hpp"
#include "runtime/run/run_setup.hpp"
#include "runtime/sampling/data_prior.hpp"
#include "runtime/sampling/generate.hpp"
#include "runtime/sampling/generate_on_ranks.hpp"
#include "runtime/sampling/sigma_clock.hpp"
#include "runtime/training/checkpoint.hpp"
#include "runtime/training/network_score.hpp"
#include "runtime/training/run_prior.hpp"
#include "runtime/training/schedule_plot.hpp"
#include "runtime/training/schedule_trainer.hpp"

namespace spdec::runtime {
namespace {

// --- interruption -----------------------------------------------------------

std::atomic<int> g_stop_signal{0};

extern "C" void record_stop_signal(int signal) { g_stop_signal.store(signal); }

/// SIGINT/SIGTERM set a flag that the loop checks after each step (then it
/// checkpoints and returns); the previous handlers come back afterwards.
class StopSignals {
 public:
  StopSignals()
      : old_int_(std::signal(SIGINT, record_stop_signal)),
        old_term_(std::signal(SIGTERM, record_stop_signal)) {
    g_stop_signal.store(0);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  StopSignals(StopSignals&&) = delete;
  StopSignals& operator=(StopSignals&&) = delete;
  ~StopSignals() {
    (void)std::signal(SIGINT, old_int_);
    (void)std::signal(SIGTERM, old_term_);
  }

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

// --- mixed precision --------------------------------------------------------

/// bf16 autocast for the network on CUDA (train.mixed_precision); nothing on
/// the CPU. The API moved between LibTorch 1.x and 2.x.
class Autocast {
 public:
  explicit Autocast(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
  }
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;
  Autocast(Autocast&&) = delete;
  Autocast& operator=(Autocast&&) = delete;
  ~Autocast() {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }

 private:
  bool enabled_;
};

// --- small pieces ------------------------------------------------------------

/// Linear warm-up to train.lr over train.warmup steps (score_sde).
double learning_rate(const config::TrainSection& train, std::int64_t step) {
  if (train.warmup <= 0) return train.lr;
  return train.lr *
         std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(train.warmup));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) {
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  }
}

/// Class labels with train's null-label dropout (classifier-free guidance),
/// keyed by the global row (`first` is the first's); undefined for
/// unconditional models.
at::Tensor training_labels(const at::Tensor& labels, const config::ModelSection& model,
                           std::uint64_t seed, std::uint64_t step, const at::Device& device,
                           std::int64_t first) {
  if (!model.class_conditional) return {};
  at::Tensor out = labels.to(at::kCPU, at::kLong).clone();
  auto* values = out.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    if (values[i] < 0 || values[i] >= model.num_classes) {
      throw std::runtime_error(fmt::format(
          "model.class_conditional needs labels 0..{}; the data has label {} (unlabelled data?)",
          model.num_classes - 1, values[i]));
    }
    std::uint64_t state = mix(seed ^ 0x1ab0ULL, step, static_cast<std::uint64_t>(first + i));
    if (uniform01(state) < model.label_dropout) values[i] = model.num_classes;
  }
  return out.to(device);
}

/// What in run.dir is a run's history, each relative to run.dir: what
/// `--fresh` discards, and what a start without a checkpoint refuses to lose.
/// `sample_output` is the stem `spdec run sample` writes (sample.output);
/// the default stem "samples" always counts.
std::vector<std::string> run_history(const std::filesystem::path& dir,
                                     const std::string& sample_output) {
  std::vector<std::string> names = {"checkpoint.pt", "checkpoint.prev.pt", "train_log.jsonl",
                                    "samples/"};
  for (const std::string& stem : {std::string("samples"), sample_output}) {
    for (const char* extension : {".png", ".npy"}) {
      const std::string name = stem + extension;
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  std::vector<std::string> found;
  for (const std::string& name : names) {
    std::error_code ec;
    const std::string bare = name.back() == '/' ? name.substr(0, name.size() - 1) : name;
    if (std::filesystem::exists(std::filesystem::symlink_status(dir / bare, ec))) {
      found.push_back(name);
    }
  }
  return found;
}

/// Keeps the log's lines up to `step` (a resumed run rewrites what came after
/// its checkpoint).
void trim_log(const std::filesystem::path& file, std::int64_t step) {
  std::ifstream in(file);
  if (!in) return;
  std::string kept;
  std::string line;
  while (std::getline(in, line)) {
    const auto json = nlohmann::json::parse(line, nullptr, false);
    if (!json.is_discarded() && json.contains("step") && json["step"].get<std::int64_t>() <= step) {
      kept += line + "\n";
    }
  }
  in.close();
  // Atomically: a crash while trimming must not lose the steps kept.
  write_file_atomically(file, kept);
}

/// The probe's times are keyed beyond every training step (train.steps <
/// 2^43 - 1), so the probe never repeats a step's draws.
constexpr std::uint64_t kProbeKey = (std::uint64_t{1} << 43U) - 1;
/// Images in the probe batch: enough to meet several times and images, few
/// enough that two forward passes per checkpoint cost nothing next to training.
constexpr std::int64_t kProbeImages = 8;

std::string finite_check(double loss, double grad_norm) {
  if (!std::isfinite(loss)) return fmt::format("the loss is {}", loss);
  if (!std::isfinite(grad_norm)) return fmt::format("the gradient norm is {}", grad_norm);
  return {};
}

// --- the trainer -------------------------------------------------------------

class Trainer {
 public:
  Trainer(const config::RunConfig& config, const lang::Process& process, std::ostream& log,
          const TrainHooks& hooks, RankGroup& ranks)
      : config_(config), process_(process), log_(log), hooks_(hooks), ranks_(ranks) {}

  TrainSummary run() {
    setup();
    TrainSummary summary;
    summary.first_step = step_;
    summary.objective = name(choice_.kind);
    summary.checkpoint = checkpoint_path(config_);
    if (step_ >= config_.train.steps) {
      log_ << "train: already at step " << step_ << " of train.steps = " << config_.train.steps
           << "; nothing to do (raise train.steps to continue)\n";
      summary.steps = step_;
      return summary;
    }
    loop(summary);
    summary.steps = step_;
    return summary;
  }

 private:
  /// Before anything is loaded or written: a fresh start over a run's
  /// history (a log or samples without a usable checkpoint) is refused
  /// unless hooks_.fresh; a dangling checkpoint symlink always names itself.
  void check_history() {
    const std::filesystem::path dir(config_.run.dir);
    const std::filesystem::path checkpoint = checkpoint_path(config_);
    if (hooks_.fresh) return;
    std::error_code ec;
    if (std::filesystem::is_symlink(checkpoint, ec) && !std::filesystem::exists(checkpoint, ec)) {
      throw std::runtime_error(fmt::format(
          "checkpoint {} is a dangling symlink (to {}); restore its target to resume, or run "
          "`spdec run train --fresh` to discard the run's history and start at step 0",
          checkpoint.string(), std::filesystem::read_symlink(checkpoint, ec).string()));
    }
    if (std::filesystem::exists(checkpoint, ec)) return;
    const std::vector<std::string> history = run_history(dir, config_.sample.output);
    if (!history.empty()) {
      throw std::runtime_error(fmt::format(
          "run.dir {} holds a run's history ({}) but no checkpoint.pt; use another run.dir, or "
          "`spdec run train --fresh` to discard the history and start at step 0",
          dir.string(), fmt::join(history, ", ")));
    }
  }

  /// --fresh: removes the run's history before a start at step 0.
  void discard_history() {
    const std::filesystem::path dir(config_.run.dir);
    const std::vector<std::string> history = run_history(dir, config_.sample.output);
    if (history.empty()) return;
    log_ << "train: --fresh: discarding the run's history in " << dir.string() << ": "
         << fmt::format("{}", fmt::join(history, ", ")) << std::endl;
    for (std::string name : history) {
      if (name.back() == '/') name.pop_back();
      std::filesystem::remove_all(dir / name);
    }
  }

  void setup() {
    // Rank 0 alone reads and writes run.dir; the others receive its state.
    if (ranks_.is_root()) check_history();
    apply_thread_count(config_, ranks_.local_size());
    device_ = choose_device(config_.run.device, ranks_);
    // Deterministic cuDNN algorithms on a GPU (the CPU kernels already are,
    // for a fixed thread count: tests/runtime/train_test.cpp checks it).
    at::globalContext().setDeterministicCuDNN(true);
    data_ = load_run_dataset(dataset_spec(config_.data), log_, "train");
    if (config::is_latent(config_)) encode_data();
    const std::int64_t channels = data_.images.size(1);
    warn_about_channels(process_, channels, log_, "train");
    require_rows_per_rank();
    model_ = make_run_model(config_, process_, data_.images.size(2), data_.images.size(3), device_);
    choice_ = choose_objective(config_.train.objective, *model_);
    parameterisation_ =
        choose_parameterisation(config_.model.parameterisation, choice_.kind, *model_);
    fingerprint_ = process_fingerprint(process_, model_->flow_scheme());
    require_process_clock();
    warn_about_unused_preconditioning();
    if (!process_.learnables.empty()) make_schedule_trainer();

    torch::manual_seed(config_.train.seed);
    const UNetOptions network = unet_options(config_.model, channels, data_.images.size(2));
    net_ = UNet(network);
    ema_ = UNet(network);
    net_->to(device_);
    ema_->to(device_);
    copy_weights(*ema_, *net_);
    optimizer_ = std::make_unique<torch::optim::Adam>(
        net_->parameters(),
        torch::optim::AdamOptions(config_.train.lr).betas({0.9, 0.999}).eps(1e-8));
    if (ranks_.is_root()) {
      std::filesystem::create_directories(config_.run.dir);
      if (hooks_.fresh) discard_history();
      if (std::filesystem::exists(checkpoint_path(config_))) {
        resume();
      } else {
        start();
      }
      // Only now: a refused checkpoint leaves the config.toml that loads it.
      config::save_resolved(config_);
    }
    share_state();
    // The knots are the init's or the checkpoint's: the model follows them.
    if (schedule_) refresh_model();
    ObjectiveOptions options;
    options.projections = config_.train.projections;
    options.parameterisation = parameterisation_;
    options.weighting = config_.train.weighting;
    if (data_spectrum_) {
      preconditioner_.emplace(*data_spectrum_);
      options.preconditioner = &*preconditioner_;
    }
    objective_ = make_objective(choice_.kind, *model_, options);
    objective_options_ = options;
    if (ranks_.size() > 1) sync_.emplace(ranks_, net_->parameters());
    if (ranks_.is_root()) {
      make_probe();
      // A fresh start checkpoints step 0 (the initial weights and the fitted
      // prior) before the first log line: a run's history never exists
      // without a checkpoint, so a kill in the first steps resumes rather than
      // leaving a log that a restart must refuse.
      if (saved_step_ < 0 && step_ < config_.train.steps) save();
    }
    log_ << "train: " << process_.name << " (" << name(model_->kind())
         << (model_->flow_scheme().empty() ? "" : ", flow " + model_->flow_scheme() + " cycles")
         << ", " << model_->kernels().backend() << ") on " << data_.size() << " images " << channels
         << "x" << model_->height() << "x" << model_->width() << ", objective "
         << name(choice_.kind) << ": " << choice_.reason << "\n"
         << "train: U-Net with " << net_->parameter_count() << " parameters on "
         << (device_.is_cuda() ? "cuda" : cpu_threads_text(at::get_num_threads())) << "; steps "
         << step_ << " -> " << config_.train.steps << ", batch " << config_.train.batch_size
         << std::endl;
    if (ranks_.size() > 1) {
      log_ << "train: " << ranks_.size() << " ranks (" << ranks_.backend()
           << "), each with its shard of every batch of " << config_.train.batch_size << " (about "
           << config_.train.batch_size / ranks_.size()
           << " images); gradients summed over the ranks after each backward pass" << std::endl;
    }
    if (schedule_) {
      log_ << "train: " << process_.learnables.size()
           << " learnable schedule(s) trained with the network (train.schedule_lr = "
           << config_.train.schedule_lr << ", " << config_.train.schedule_probes
           << " Hutchinson direction(s) per step); knots as multiples of their init: "
           << schedule_->summary() << std::endl;
    } else if (!process_.learnables.empty()) {
      log_ << "train: " << process_.name << " declares " << process_.learnables.size()
           << " learnable schedule(s); train.schedule_lr = 0 keeps them at their initial knots"
           << std::endl;
    }
  }

  /// A latent run: data_ becomes the training images' codes (unscaled
  /// until set_latent_scale), which the process and the network then see.
  void encode_data() {
    pixel_shape_ = {data_.images.size(1), data_.images.size(2), data_.images.size(3)};
    codec_ = open_run_codec(config_, pixel_shape_[0], device_);
    log_ << "train: latent space of " << codec_->description() << "; encoding " << data_.size()
         << " training images" << std::endl;
    data_ = encode_dataset(data_, *codec_, log_, "train");
  }

  /// Divides the codes by the latent scale (estimated by a fresh start,
  /// the checkpoint's on a resume): from here on data_ holds the model's latents.
  void set_latent_scale(double scale) {
    if (!codec_) return;
    data_.images = data_.images / scale;
    latent_ = LatentHeader{scale, codec_->fingerprint(), pixel_shape_};
    latent_space_.emplace(codec_, scale);
    log_ << fmt::format(
                "train: latents {}x{}x{} of images {}x{}x{}, scale {:.6g} (the codes' "
                "standard deviation)",
                data_.images.size(1), data_.images.size(2), data_.images.size(3), pixel_shape_[0],
                pixel_shape_[1], pixel_shape_[2], scale)
         << std::endl;
  }

  void start() {
    std::filesystem::remove(log_file());
    if (codec_) set_latent_scale(latent_scale(data_.images));
    const std::int64_t n = std::min<std::int64_t>(config_.train.prior_fit_images, data_.size());
    if (choice_.kind != ObjectiveKind::flow_matching) {
      log_ << "train: fitting the prior at T = " << model_->end_time() << " on " << n
           << " images (train.prior = \"" << name(config_.train.prior) << "\")" << std::endl;
    }
    const at::Tensor x0 = prior_fit_images();
    prior_ = fit_run_prior(*model_, choice_.kind, x0, config_.train.prior, config_.train.seed);
    if (parameterisation_ == Parameterisation::denoiser) {
      // The data's mean and per-mode variance, once: the denoiser's
      // preconditioning (runtime/process/preconditioner.hpp), kept in the checkpoint.
      data_spectrum_ = gaussian_fit(x0.to(at::kCPU), model_->noise().basis());
      // auto = scalar: measured better than the per-mode spectrum for VE and the
      // paper's process (docs/results.md, "What the first campaign found").
      if (config_.model.preconditioning == config::Preconditioning::sigma_data) {
        data_spectrum_ =
            sigma_data_spectrum(model_->noise().basis(), x0.size(1), config_.model.sigma_data);
      } else if (config_.model.preconditioning != config::Preconditioning::spectrum) {
        data_spectrum_ = flatten_spectrum(*data_spectrum_);
      }
    }
  }

  void resume() {
    const CheckpointHeader header = load_checkpoint(
        checkpoint_path(config_), fingerprint_, parts(), &prior_, &model_->noise().basis(),
        &data_spectrum_,
        [this](const CheckpointHeader& h) { return process_mismatch(h, config_, process_); });
    require_checkpoint_latent(checkpoint_path(config_), header, codec_.get());
    if (header.latent) set_latent_scale(header.latent->scale);
    if (header.objective != choice_.kind) {
      throw std::runtime_error(fmt::format(
          "checkpoint {} was trained with objective {}, this run asks for {}; use another "
          "run.dir or train.objective = \"{}\"",
          checkpoint_path(config_).string(), name(header.objective), name(choice_.kind),
          name(header.objective)));
    }
    if (header.parameterisation != parameterisation_) {
      throw std::runtime_error(fmt::format(
          "checkpoint {} holds a {} network, this run asks for {} (model.parameterisation); use "
          "another run.dir or model.parameterisation = \"{}\"",
          checkpoint_path(config_).string(), name(header.parameterisation), name(parameterisation_),
          name(header.parameterisation)));
    }
    step_ = header.step;
    saved_step_ = step_;
    trim_log(log_file(), step_);
    log_ << "train: resuming " << checkpoint_path(config_).string() << " at step " << step_
         << std::endl;
  }

  /// Every rank needs rows of each global batch (the batch is the whole
  /// data set when train.batch_size exceeds it).
  void require_rows_per_rank() const {
    const std::int64_t rows = std::min<std::int64_t>(config_.train.batch_size, data_.size());
    if (rows < ranks_.size()) {
      throw std::runtime_error(fmt::format(
          "train.batch_size = {} ({} images per batch) is smaller than the {} ranks: every rank "
          "needs at least one image of each batch; raise train.batch_size or use fewer ranks",
          config_.train.batch_size, rows, ranks_.size()));
    }
  }

  /// The network as the samplers see it: head and time input.
  [[nodiscard]] NetworkHead sampling_head() const {
    NetworkHead out = network_head(choice_.kind, parameterisation_, data_spectrum_);
    out.time_input = config_.model.time_input;
    return out;
  }

  /// What a checkpoint of the current state says about itself.
  [[nodiscard]] CheckpointHeader header() const {
    CheckpointHeader out;
    out.process = fingerprint_;
    out.config = config::resolved_toml(config_);
    if (process_.file) out.process_source = process_.file->text();
    out.objective = choice_.kind;
    out.parameterisation = parameterisation_;
    out.step = step_;
    out.image_shape = {data_.images.size(1), data_.images.size(2), data_.images.size(3)};
    out.latent = latent_;
    return out;
  }

  /// Rank 0's state after its start-up — the weights (fresh or resumed),
  /// Adam's moments, the step, the prior and the data spectrum, everything
  /// but the EMA, which rank 0 alone keeps — into every other rank, through
  /// the checkpoint's own format: a resume on any number of ranks starts
  /// every rank from checkpoint.pt, and run.dir need be on rank 0 only.
  void share_state() {
    if (ranks_.size() == 1) return;
    const CheckpointParts parts{net_.get(), nullptr, optimizer_.get()};
    std::string bytes;
    if (ranks_.is_root()) bytes = checkpoint_bytes(header(), parts, prior_, data_spectrum_);
    bytes = ranks_.broadcast_bytes(
        bytes, "rank 0's start-up (its prior fit or checkpoint, then its weights)");
    if (ranks_.is_root()) return;
    const CheckpointHeader received =
        load_checkpoint_bytes(bytes, "the state rank 0 sent", fingerprint_, parts, &prior_,
                              &model_->noise().basis(), &data_spectrum_);
    step_ = received.step;
    if (received.latent) set_latent_scale(received.latent->scale);
  }

  [[nodiscard]] std::filesystem::path log_file() const {
    return config::run_path(config_, "train_log.jsonl");
  }

  void loop(TrainSummary& summary) {
    const StopSignals signals;
    LoaderOptions options;
    options.batch_size = config_.train.batch_size;
    options.seed = config_.train.seed;
    options.drop_last = config_.train.batch_size <= data_.size();
    options.start_batch = step_;
    options.shard_rank = ranks_.rank();
    options.shard_count = ranks_.size();
    BatchLoader loader(data_, options);
    // The log and the progress bar are rank 0's.
    std::optional<std::ofstream> jsonl;
    std::optional<Progress> progress;
    if (ranks_.is_root()) {
      jsonl.emplace(log_file(), std::ios::app);
      if (!*jsonl) {
        throw DataError(log_file(), "cannot open the log for appending: " + lang::os_reason());
      }
      progress.emplace("train", step_, config_.train.steps, log_, Progress::stderr_is_terminal(),
                       config_.train.log_every);
    }
    const std::int64_t first_step = step_;
    const auto began = std::chrono::steady_clock::now();
    const double time_scale = objective_->max_time();
    while (step_ < config_.train.steps) {
      if (hooks_.stop_after > 0 && step_ >= hooks_.stop_after) {
        summary.interrupted = true;
        break;
      }
      const Batch batch = loader.next();
      const StepResult result = train_step(batch, time_scale);
      ++step_;
      summary.last_loss = result.loss;
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
      if (jsonl && (step_ % std::max<std::int64_t>(config_.train.log_every, 1) == 0 ||
                    step_ == config_.train.steps)) {
        nlohmann::json record{{"step", step_},
                              {"loss", result.loss},
                              {"lr", result.lr},
                              {"grad_norm", result.grad_norm},
                              {"time", seconds}};
        if (schedule_) record["schedule_loss"] = result.schedule_loss;
        *jsonl << record.dump() << std::endl;
        // A lost line would be a gap in the curve: stop, naming the reason.
        if (!*jsonl) throw DataError(log_file(), "cannot append to the log: " + lang::os_reason());
      }
      if (progress) progress->update(step_, result.loss);
      if (progress && schedule_ &&
          step_ % std::max<std::int64_t>(config_.train.log_every, 1) == 0) {
        progress->break_line();
        log_ << "train: step " << step_ << " knots " << schedule_->summary() << " (schedule loss "
             << fmt::format("{:.4g}", result.schedule_loss) << ")" << std::endl;
      }
      if (config_.train.checkpoint_every > 0 && step_ % config_.train.checkpoint_every == 0) {
        check_replicas();
        if (ranks_.is_root()) save();
      }
      if (config_.train.sample_every > 0 && step_ % config_.train.sample_every == 0) {
        if (progress) progress->break_line();
        sample_grid();
      }
      if (result.stop) {
        summary.interrupted = true;
        break;
      }
    }
    if (!ranks_.is_root()) return;
    progress->finish();
    save();
    report_all_reduce(first_step, began);
    if (schedule_) report_schedules(summary);
    if (summary.interrupted) {
      log_ << "train: stopped at step " << step_ << "; checkpoint "
           << checkpoint_path(config_).string() << " (run the same command again to resume)"
           << std::endl;
    } else {
      log_ << "train: done, " << step_ << " steps; checkpoint " << checkpoint_path(config_).string()
           << std::endl;
    }
  }

  struct StepResult {
    double loss;
    double grad_norm;
    double lr;
    bool stop;                   ///< a stop was asked for (on any rank): end after this step
    double schedule_loss = 0.0;  ///< the knots' objective (learnable schedules)
  };

  /// At each checkpoint, every rank compares its weights with rank 0's (a
  /// checksum): the ranks take the same steps from the same weights on the
  /// same summed gradients, so they must hold one network, bit for bit; a
  /// rank that does not (a non-deterministic kernel, a lost update) stops,
  /// naming itself, rather than train on apart from what rank 0 saves.
  void check_replicas() {
    if (ranks_.size() == 1) return;
    const at::NoGradGuard no_grad;
    at::Tensor sum = at::zeros({2}, at::TensorOptions().dtype(at::kDouble));
    for (const at::Tensor& parameter : net_->parameters()) {
      const at::Tensor values = parameter.detach().to(at::kCPU, at::kDouble);
      sum[0] += values.sum();
      sum[1] += values.square().sum();
    }
    std::vector<at::Tensor> root{sum.clone().to(ranks_.collective_device())};
    ranks_.broadcast(root, fmt::format("the weight check of step {}", step_));
    const at::Tensor expected = root[0].to(at::kCPU);
    if (!at::equal(expected, sum)) {
      throw std::runtime_error(fmt::format(
          "{}: its weights differ from rank 0's at step {} (checksums {:.17g}, {:.17g} against "
          "{:.17g}, {:.17g}): the ranks no longer train one network",
          ranks_.describe(), step_, sum[0].item<double>(), sum[1].item<double>(),
          expected[0].item<double>(), expected[1].item<double>()));
    }
  }

  /// How much of the training time the gradients' all-reduce took (rank 0's
  /// view; after backward, not overlapped with it).
  void report_all_reduce(std::int64_t first_step,
                         std::chrono::steady_clock::time_point began) const {
    if (!sync_ || sync_->calls() == 0 || step_ <= first_step) return;
    const double total =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    const double per_step = sync_->seconds() / static_cast<double>(sync_->calls());
    log_ << fmt::format(
                "train: gradient all-reduce over {} ranks ({}): {} bucket(s), {:.1f} MB, {:.1f} ms "
                "per step (the wait for the slowest rank included), {:.1f} % of the training time",
                ranks_.size(), ranks_.backend(), sync_->bucket_count(),
                static_cast<double>(sync_->bucket_bytes()) / 1e6, 1e3 * per_step,
                100.0 * sync_->seconds() / std::max(total, 1e-9))
         << std::endl;
  }

  /// A batch's draws for the objective, every one keyed by (train.seed, key):
  /// the times, the noise (through draw.step) and the dropped labels.
  struct KeyedDraw {
    TrainingDraw draw;
    at::Tensor labels;
  };

  /// `rows`: which rows of the global batch `images` are (a rank's shard);
  /// each row's draws are keyed by its global row.
  KeyedDraw keyed_draw(const at::Tensor& images, const at::Tensor& labels, std::uint64_t key,
                       const Shard& rows) const {
    KeyedDraw out;
    out.draw.x0 = images.to(device_);
    out.draw.seed = config_.train.seed;
    out.draw.step = key;
    out.draw.row_offset = rows.begin;
    out.draw.global_rows = rows.total;
    const std::vector<double> times = draw_times(rows.total, key);
    out.draw.times.assign(times.begin() + rows.begin, times.begin() + rows.end);
    out.labels =
        training_labels(labels, config_.model, config_.train.seed, key, device_, rows.begin);
    return out;
  }

  /// The global batch's training times of step `key` (train.time_sampling).
  std::vector<double> draw_times(std::int64_t n, std::uint64_t key) const {
    const double lo = objective_->min_time();
    const double hi = objective_->max_time();
    if (config_.train.time_sampling != config::TimeSampling::log_normal) {
      return training_times(n, lo, hi, config_.train.time_sampling, config_.train.seed, key);
    }
    const LinearProcess* linear = model_->linear();
    if (linear == nullptr) {
      throw std::invalid_argument(
          "train.time_sampling = \"log_normal\" draws EDM's noise levels and needs a linear "
          "process whose noise level grows with t; process `" +
          model_->process().name + "` is " + name(model_->kind()) + ": use \"uniform\"");
    }
    return log_normal_times(
        n, lo, hi, config_.train.p_mean, config_.train.p_std,
        [linear, lo, hi](double sigma) { return time_of_sigma(*linear, sigma, lo, hi); },
        config_.train.seed, key);
  }

  /// The objective's loss of `net` on `batch` (autocast when configured).
  at::Tensor objective_loss(UNet& net, const KeyedDraw& batch, double time_scale) const {
    const at::Tensor& labels = batch.labels;
    const config::TimeInput input = config_.model.time_input;
    ProcessModel& model = *model_;
    const Network network = [&net, time_scale, &labels, input, &model](const at::Tensor& x,
                                                                       const at::Tensor& t) {
      const at::Tensor time = network_time(model, input, t, time_scale, t.device());
      return net->forward(x, time, labels).to(at::kFloat);
    };
    const Autocast autocast(device_.is_cuda() && config_.train.mixed_precision);
    return objective_->loss(network, batch.draw);
  }

  StepResult train_step(const Batch& batch, double time_scale) {
    const auto key = static_cast<std::uint64_t>(step_);
    // Dropout draws from the global generator: reseed it per step, so a
    // resumed run draws what the uninterrupted one would have (and every
    // rank the whole batch's mask, runtime/nn/shard_dropout.hpp).
    torch::manual_seed(mix(config_.train.seed, key, 0xd20bULL));
    net_->set_batch_shard(batch.rows);
    const KeyedDraw draw = keyed_draw(batch.images, batch.labels, key, batch.rows);
    at::Tensor loss = objective_loss(net_, draw, time_scale);
    if (hooks_.on_loss) hooks_.on_loss(step_, loss);
    if (sync_) return shared_step(loss, batch.rows);
    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value)) diverged(finite_check(loss_value, 0.0));
    optimizer_->zero_grad();
    loss.backward();
    const double max_norm = config_.train.grad_clip > 0 ? config_.train.grad_clip
                                                        : std::numeric_limits<double>::infinity();
    const double grad_norm = torch::nn::utils::clip_grad_norm_(net_->parameters(), max_norm);
    if (!std::isfinite(grad_norm)) diverged(finite_check(loss_value, grad_norm));
    const double lr = learning_rate(config_.train, step_);
    set_learning_rate(*optimizer_, lr);
    optimizer_->step();
    ema_update(*ema_, *net_, ema_decay(config_.train.ema, step_));
    const double schedule_loss = schedule_ ? schedule_step(draw, time_scale, lr) : 0.0;
    return {loss_value, grad_norm, lr, g_stop_signal.load() != 0, schedule_loss};
  }

  /// A step on one rank of several: this rank's share of the global mean
  /// loss is back-propagated, the gradients summed over the ranks
  /// (runtime/distributed/gradient_sync.hpp); every rank then clips and steps
  /// alike. The EMA is rank 0's.
  StepResult shared_step(const at::Tensor& loss, const Shard& rows) {
    const double share = static_cast<double>(rows.size()) / static_cast<double>(rows.total);
    optimizer_->zero_grad();
    const at::Tensor scaled = loss * share;
    scaled.backward();
    const GradientSync::Reduced reduced =
        sync_->all_reduce(scaled.item<double>(), g_stop_signal.load() != 0, step_);
    if (!std::isfinite(reduced.loss)) diverged(finite_check(reduced.loss, 0.0));
    const double max_norm = config_.train.grad_clip > 0 ? config_.train.grad_clip
                                                        : std::numeric_limits<double>::infinity();
    const double grad_norm = torch::nn::utils::clip_grad_norm_(net_->parameters(), max_norm);
    if (!std::isfinite(grad_norm)) diverged(finite_check(reduced.loss, grad_norm));
    const double lr = learning_rate(config_.train, step_);
    set_learning_rate(*optimizer_, lr);
    optimizer_->step();
    if (ranks_.is_root()) ema_update(*ema_, *net_, ema_decay(config_.train.ema, step_));
    return {reduced.loss, grad_norm, lr, reduced.stop, 0.0};
  }

  /// A non-finite loss or gradient at step step_ + 1. When checkpoint.pt
  /// holds the very weights that gave it (saved at step_), resuming from it
  /// would fail the same way at any learning rate (step_ + 1's draws are
  /// fixed): checkpoint.prev.pt is moved back first.
  [[noreturn]] void diverged(const std::string& what) {
    // Every rank sees the same global loss and gradients: they stop together,
    // and rank 0, which owns run.dir, says why (the others stay quiet).
    if (!ranks_.is_root())
      throw TrainingDiverged("training diverged at step " + std::to_string(step_ + 1) + ": " +
                             what);
    if (saved_step_ == step_ && !roll_back()) {
      throw TrainingDiverged(fmt::format(
          "training diverged at step {}: {}; checkpoint {} holds step {}'s weights, which gave "
          "it, and there is no earlier one: a resume repeats it at any train.lr; start again with "
          "`--fresh` and a lower train.lr",
          step_ + 1, what, checkpoint_path(config_).string(), step_));
    }
    diverged_at(step_ + 1, what + "; stopped before the optimiser step");
  }

  /// Throws TrainingDiverged naming the step, what checkpoint.pt holds and
  /// how to go on from it.
  [[noreturn]] void diverged_at(std::int64_t step, const std::string& what) const {
    const std::filesystem::path file = checkpoint_path(config_);
    const std::string advice = fmt::format(
        "lower train.lr (e.g. the override train.lr={:g}), raise train.warmup or keep "
        "train.grad_clip on",
        config_.train.lr / 10);
    if (saved_step_ < 0) {
      throw TrainingDiverged(
          fmt::format("training diverged at step {}: {}; no checkpoint was written yet: {} and "
                      "train again",
                      step, what, advice));
    }
    throw TrainingDiverged(fmt::format(
        "training diverged at step {}: {}; the last good checkpoint, {}, holds step {}: resume "
        "from it with the same command and the run's config changed: {}",
        step, what, file.string(), saved_step_, advice));
  }

  /// Moves checkpoint.prev.pt back over checkpoint.pt (saved_step_ becomes
  /// its step); false when there is none.
  bool roll_back() {
    const std::filesystem::path file = checkpoint_path(config_);
    const std::filesystem::path previous = previous_checkpoint_path(file);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(previous, ec)) return false;
    const std::int64_t step = read_checkpoint_header(previous).step;
    std::filesystem::rename(previous, file, ec);
    if (ec) {
      throw std::runtime_error(fmt::format("cannot move {} back over {}: {}", previous.string(),
                                           file.string(), ec.message()));
    }
    log_ << "train: checkpoint " << file.string() << " of step " << saved_step_
         << " gave the non-finite loss; " << previous.string() << " (step " << step
         << ") moved back over it" << std::endl;
    saved_step_ = step;
    return true;
  }

  /// The first few training images perturbed at a few times, fixed for the
  /// run: every checkpoint's networks must map them to finite outputs.
  void make_probe() {
    const std::int64_t n = std::min<std::int64_t>(kProbeImages, data_.size());
    const at::Tensor labels = data_.labels.defined() ? data_.labels.narrow(0, 0, n) : at::Tensor();
    probe_ = keyed_draw(runtime::to_float(data_.images.narrow(0, 0, n), data_.range), labels,
                        kProbeKey, Shard{0, n, n});
  }

  /// The objective on the probe batch through `net` (in eval mode: no
  /// dropout); a non-finite output makes the loss non-finite. Autograd stays
  /// on: the sliced objective differentiates the network.
  double probe_loss(UNet& net) const {
    const bool training = net->is_training();
    net->eval();
    const double loss = objective_loss(net, probe_, objective_->max_time()).item<double>();
    net->train(training);
    return loss;
  }

  /// Refuses (TrainingDiverged) to replace checkpoint.pt with weights whose
  /// forward pass is not finite: finite but huge weights overflow there
  /// first, and a resume from them would fail at once whatever train.lr.
  void require_finite_forward() {
    for (auto [net, which] : {std::pair<UNet*, const char*>{&net_, "network"},
                              std::pair<UNet*, const char*>{&ema_, "EMA network"}}) {
      const double loss = probe_loss(*net);
      if (!std::isfinite(loss)) {
        diverged_at(step_, fmt::format("the {}'s output on a fixed probe batch is not finite "
                                       "(its loss is {}), so its weights were not saved",
                                       which, loss));
      }
    }
  }

  void save() {
    require_finite_forward();
    if (schedule_) {
      // The prior at T follows the knots (M_T moves with the interior ones).
      prior_ = fit_run_prior(*model_, choice_.kind, prior_fit_images(), config_.train.prior,
                             config_.train.seed);
    }
    save_checkpoint(checkpoint_path(config_), header(), parts(), prior_, data_spectrum_);
    saved_step_ = step_;
  }

  /// What a checkpoint holds of the trainer's state.
  [[nodiscard]] CheckpointParts parts() {
    CheckpointParts out{net_.get(), ema_.get(), optimizer_.get()};
    if (schedule_) {
      out.schedules = &schedule_->schedules();
      out.schedule_optimizer = &schedule_->optimizer();
    }
    return out;
  }

  /// The images the prior at T is fitted on.
  [[nodiscard]] at::Tensor prior_fit_images() const {
    const std::int64_t n = std::min<std::int64_t>(config_.train.prior_fit_images, data_.size());
    return runtime::to_float(data_.images.narrow(0, 0, n), data_.range).to(device_);
  }

  /// model.preconditioning shapes the denoiser network only: say so when a
  /// run sets it for an ε-network (e.g. EDM's spec with
  /// model.parameterisation = "noise"), rather than ignore it silently.
  void warn_about_unused_preconditioning() const {
    if (parameterisation_ == Parameterisation::denoiser ||
        config_.model.preconditioning == config::Preconditioning::automatic) {
      return;
    }
    log_ << fmt::format(
                "train: warning: model.preconditioning = \"{}\" applies to the denoiser network "
                "only; this run's network predicts the noise (model.parameterisation = \"{}\"), "
                "so it is not used",
                name(config_.model.preconditioning), name(parameterisation_))
         << std::endl;
  }

  /// EDM's time input and time sampling read the process's noise level σ(t).
  /// Flow matching's t is its own interpolation time (x_t = (1 − t) x₀ + t ε),
  /// not the process's, so they would hand the network ln σ of an unrelated
  /// time, and ln 0 = −∞ at its data end: refused before the first step.
  void require_process_clock() const {
    if (choice_.kind != ObjectiveKind::flow_matching) return;
    const auto refuse = [](const char* key, const char* value, const char* fix) {
      throw std::runtime_error(fmt::format(
          "{0} = \"{1}\" reads the process's noise level σ(t), and train.objective = "
          "\"flow_matching\" trains on its own interpolation time, not the process's: use {0} = "
          "\"{2}\" with flow matching",
          key, value, fix));
    };
    if (config_.model.time_input == config::TimeInput::log_sigma) {
      refuse("model.time_input", "log_sigma", "time");
    }
    if (config_.train.time_sampling == config::TimeSampling::log_normal) {
      refuse("train.time_sampling", "log_normal", "uniform");
    }
  }

  /// The knots' trainer, or a refusal naming why they cannot train here
  /// (docs/learnable_schedules.md); train.schedule_lr = 0 keeps the init.
  void make_schedule_trainer() {
    if (config_.train.schedule_lr <= 0) return;
    const std::string where = process_.file ? process_.file->path() : process_.name;
    if (choice_.kind == ObjectiveKind::flow_matching) {
      throw std::runtime_error(fmt::format(
          "{}: the learnable schedules train from the network's estimate of the noise (directly, "
          "or through its denoised estimate); train.objective = \"flow_matching\" trains a "
          "velocity on its own time: use another objective, or train.schedule_lr = 0 to keep the "
          "knots at their init",
          where));
    }
    if (ranks_.size() > 1) {
      throw std::runtime_error(fmt::format(
          "{}: joint training of learnable schedules runs on one rank; train on one process, or "
          "set train.schedule_lr = 0",
          where));
    }
    if (config_.train.sample_every > 0) require_sampler_for_learned_knots(config_, process_);
    ScheduleTrainingOptions options;
    options.lr = config_.train.schedule_lr;
    options.offset = config_.train.schedule_offset;
    options.probes = config_.train.schedule_probes;
    options.seed = config_.train.seed;
    schedule_.emplace(process_, model_->noise(), options);
  }

  /// The process model (and the objective that reads it) at the current knots.
  void refresh_model() {
    const KnotValues knots = schedule_->schedules().values();
    model_ = make_run_model(config_, process_, data_.images.size(2), data_.images.size(3), device_,
                            &knots);
    if (objective_) objective_ = make_objective(choice_.kind, *model_, objective_options_);
  }

  /// The network's flow φ = E[−ε | x_t] for x_t = x_0 + M^{1/2} ε, which the
  /// knots' objective reads: −ε̂ for a noise-predicting network; for the
  /// denoiser M^{−1/2}(D(x_t) − x_t), with the preconditioning's
  /// coefficients from the current knots' values, so θ-free like the
  /// network's time input (the related work detaches its network's schedule
  /// input too). Valid for the step it is made in: refresh_model() replaces
  /// the model it reads.
  [[nodiscard]] FlowFunction network_flow(const at::Tensor& labels, double time_scale) {
    UNet& net = net_;
    const config::TimeInput input = config_.model.time_input;
    ProcessModel& model = *model_;
    if (parameterisation_ != Parameterisation::denoiser) {
      return [&net, &labels, &model, input, time_scale](const at::Tensor& x, const at::Tensor& t) {
        const at::Tensor time = network_time(model, input, t, time_scale, x.device());
        return -net->forward(x, time, labels).to(at::kFloat);
      };
    }
    const Preconditioner& preconditioner = *preconditioner_;
    return [&net, &labels, &model, &preconditioner, input, time_scale](const at::Tensor& x,
                                                                       const at::Tensor& t) {
      const ModeScales scales = model.mode_scales(host_times(t));
      const Preconditioner::State state = preconditioner.at(x, scales);
      const at::Tensor time = network_time(model, input, t, time_scale, x.device());
      const at::Tensor f = net->forward(state.input(), time, labels);
      return flow_of_denoised(preconditioner.basis(), x, state.denoised(f.to(x.scalar_type())),
                              scales.s2)
          .to(at::kFloat);
    };
  }

  /// One step of the knots on the step's batch, then the model at the new
  /// knots. The knots' learning rate follows the network's warm-up.
  double schedule_step(const KeyedDraw& draw, double time_scale, double lr) {
    const FlowFunction flow = network_flow(draw.labels, time_scale);
    const double scale = config_.train.lr > 0 ? lr / config_.train.lr : 1.0;
    const double loss = schedule_->step(flow, draw.draw.x0, static_cast<std::uint64_t>(step_),
                                        config_.train.schedule_lr * scale);
    refresh_model();
    return loss;
  }

  /// After training: the knots in the log and the summary, and their plot.
  void report_schedules(TrainSummary& summary) {
    summary.knots = schedule_->schedules().values();
    log_ << "train: learned schedules:\n" << schedule_->table();
    const std::filesystem::path plot = config::run_path(config_, "schedules.png");
    write_schedule_plot(plot, schedule_->schedules());
    log_ << "train: schedule plot " << plot.string() << std::endl;
  }

  /// The images the sample grids' prior is drawn from (sample.prior),
  /// decided at the first grid and kept.
  const at::Tensor& grid_prior_images() {
    if (!grid_prior_images_) {
      grid_prior_images_.emplace();
      if (choice_.kind != ObjectiveKind::flow_matching) {
        const std::int64_t n = std::min<std::int64_t>(config_.sample.prior_images, data_.size());
        const at::Tensor images =
            runtime::to_float(data_.images.narrow(0, 0, n), data_.range).to(device_);
        PriorDecision decision =
            decide_prior(config_.sample.prior, *model_, images, config_.sample.seed);
        log_ << "train: the sample grids' prior at T: " << decision.reason << std::endl;
        grid_prior_images_ = std::move(decision.images);
      }
    }
    return *grid_prior_images_;
  }

  /// The sample grid of the EMA weights, drawn by every rank (each its
  /// shard of the grid's samples, after rank 0's EMA weights reach it), so
  /// that no rank idles through it; rank 0 writes it.
  void sample_grid() {
    if (ranks_.size() > 1) {
      std::vector<at::Tensor> weights = ema_->parameters();
      for (const at::Tensor& buffer : ema_->buffers()) weights.push_back(buffer);
      broadcast_module(ranks_, weights,
                       fmt::format("the EMA weights for step {}'s sample grid", step_));
    }
    GenerateRequest request = generate_request(config_);
    request.n = std::min<std::int64_t>(request.n, 64);
    // A batch per rank at least, so that every rank draws its part of the grid.
    request.batch_size =
        std::min<std::int64_t>(request.batch_size, (request.n + ranks_.size() - 1) / ranks_.size());
    request.prior_images = grid_prior_images();
    const at::Tensor images =
        generate_on_ranks(ranks_, *model_, ema_, sampling_head(), prior_, request,
                          fmt::format("the gather of step {}'s sample grid", step_));
    if (!ranks_.is_root()) return;
    const std::filesystem::path file =
        config::run_path(config_, fmt::format("samples/step_{:07}.png", step_));
    std::filesystem::create_directories(file.parent_path());
    GridOptions grid;
    grid.range = config_.data.range;
    const at::Tensor decoded = latent_space_ ? latent_space_->decode(images) : images;
    save_image_grid(file, clamp_to_range(decoded, grid.range), grid);
    log_ << "train: step " << step_ << " samples " << file.string() << std::endl;
  }

  const config::RunConfig& config_;
  const lang::Process& process_;
  std::ostream& log_;
  TrainHooks hooks_;
  RankGroup& ranks_;
  std::optional<GradientSync> sync_;  ///< on several ranks
  at::Device device_{at::kCPU};
  Dataset data_;
  std::unique_ptr<ProcessModel> model_;
  ObjectiveChoice choice_;
  Parameterisation parameterisation_ = Parameterisation::noise;
  std::optional<GaussianPrior> data_spectrum_;
  std::optional<Preconditioner> preconditioner_;
  std::unique_ptr<Objective> objective_;
  ObjectiveOptions objective_options_;  ///< to remake objective_ when the model is rebuilt
  /// Joint training of learnable schedules (train.schedule_lr > 0).
  std::optional<ScheduleTrainer> schedule_;
  std::string fingerprint_;
  UNet net_{nullptr};
  UNet ema_{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::optional<GaussianPrior> prior_;
  /// A latent run's: the autoencoder, the images' shape, and once the scale
  /// is known, the checkpoint's latent entries and the space that decodes.
  std::shared_ptr<LatentCodec> codec_;
  std::vector<std::int64_t> pixel_shape_;
  std::optional<LatentHeader> latent_;
  std::optional<LatentSpace> latent_space_;
  std::optional<at::Tensor> grid_prior_images_;  ///< grid_prior_images(), once decided
  std::int64_t step_ = 0;
  /// The step checkpoint.pt holds; -1 before one is written or resumed.
  std::int64_t saved_step_ = -1;
  KeyedDraw probe_;
};

}  // namespace

std::filesystem::path checkpoint_path(const config::RunConfig& config) {
  return config::run_path(config, "checkpoint.pt");
}

TrainSummary run_train(const config::RunConfig& config, const lang::Process& process,
                       std::ostream& log, const TrainHooks& hooks) {
  RankGroup alone;
  return run_train(config, process, log, hooks, alone);
}

TrainSummary run_train(const config::RunConfig& config, const lang::Process& process,
                       std::ostream& log, const TrainHooks& hooks, RankGroup& ranks) {
  Trainer trainer(config, process, log, hooks, ranks);
  return trainer.run();
}

}  // namespace spdec::runtime
