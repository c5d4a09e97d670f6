// Run configurations: the `.toml` file that names a `.spde` process and says
// what to do with it (data, model, training, sampling, evaluation) and where
// every output goes (`run.dir`). The schema — every key, its type, default and
// meaning — is specs/RUN_CONFIG.md; README.md is the user's view.
//
// Loading is strict and speaks to people: an unknown key, a wrong type or a
// value out of range is a Diagnostic (file:line:col, the source line, a caret,
// a "did you mean" hint), rendered exactly like `.spde` errors. Command-line
// overrides `section.key=value` are TOML values validated like the file
// (`train.lr=2e-4`, `data.flip=false`, `sample.sampler=ode` as a string).
//
// No LibTorch here: library spdec_config builds and tests alone.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "lang/diagnostics.hpp"
#include "lang/process.hpp"
#include "lang/training_plan.hpp"
#include "runtime/config/choices.hpp"

namespace spdec::config {

/// [run]: identity and the run directory, where every output goes.
struct RunSection {
  std::string name;  ///< default: the TOML file's stem
  std::string dir;   ///< default: runs/<name> under the working directory; absolute once loaded
  Device device = Device::automatic;
  int threads = 0;  ///< CPU threads; 0 = all
  friend bool operator==(const RunSection&, const RunSection&) = default;
};

/// [process]: the `.spde` file and what the run changes in it.
struct ProcessSection {
  std::string file;                      ///< required; absolute once loaded
  std::map<std::string, double> params;  ///< param overrides, name -> value
  SemanticsChoice semantics = SemanticsChoice::declared;
  Backend backend = Backend::automatic;
  Flow flow = Flow::automatic;  ///< decoupled flow
  int fed_cycles = 80;          ///< fed: whole cycles on [0, T]
  friend bool operator==(const ProcessSection&, const ProcessSection&) = default;
};

/// [data]: the training (and reference) images.
struct DataSection {
  Dataset dataset = Dataset::fashion_mnist;
  std::string path;  ///< default per dataset; absolute once loaded
  Split split = Split::train;
  int channels = 0;  ///< 0 = as stored (1 for Fashion-MNIST, 3 for CIFAR-10)
  int size = 32;     ///< image side after resize/pad
  ValueRange range = ValueRange::minus_one_one;
  bool flip = false;   ///< random horizontal flips
  std::int64_t n = 0;  ///< use the first n images; 0 = all
  friend bool operator==(const DataSection&, const DataSection&) = default;
};

/// [forward]: `spdec run forward`, strips of the forward process.
struct ForwardSection {
  int images = 8;                 ///< rows: the first data images (or `input`)
  int times = 8;                  ///< columns, evenly spaced on [t0, T] (when time_list is empty)
  std::vector<double> time_list;  ///< TOML `times = [..]`: explicit times instead
  std::uint64_t seed = 0;
  std::vector<std::string> input;  ///< image files instead of data; absolute once loaded
  std::string png = "forward.png";
  std::string npy = "forward.npy";
  std::string json = "forward.json";
  friend bool operator==(const ForwardSection&, const ForwardSection&) = default;
};

/// [model]: the U-Net (NCSN++/DDPM++ family).
struct ModelSection {
  int base_channels = 64;
  std::vector<int> channel_mult{1, 2, 2};
  int num_res_blocks = 2;
  std::vector<int> attention_resolutions{16};
  double dropout = 0.1;
  TimeEmbedding embedding = TimeEmbedding::fourier;
  double fourier_scale = 16.0;
  bool class_conditional = false;
  int num_classes = 10;
  double label_dropout = 0.1;  ///< null-label rate, for classifier-free guidance
  /// auto (nullopt: the training plan decides) | denoiser | noise
  std::optional<lang::Parameterisation> parameterisation;
  Preconditioning preconditioning = Preconditioning::automatic;  ///< denoiser only
  double sigma_data = 0.5;  ///< EDM's σ_d, for preconditioning = sigma_data
  TimeInput time_input = TimeInput::time;
  /// The autoencoder whose latent space the process runs in (docs/latent.md):
  /// spdec's own (`spdec run autoencoder` writes it here) or a user's
  /// TorchScript encoder/decoder pair; relative to run.dir, absolute once
  /// loaded; empty = the process runs on the pixels.
  std::string autoencoder;
  friend bool operator==(const ModelSection&, const ModelSection&) = default;
};

/// [train.distributed]: jobs on several ranks (torchrun's RANK/WORLD_SIZE
/// or `spdec run JOB --nproc N`); `run sample` and `run eval` read it too.
struct DistributedSection {
  DistributedBackend backend = DistributedBackend::automatic;
  /// Seconds a rank waits for the others at a collective (or at the start,
  /// while rank 0 fits the prior) before it stops, naming the ranks that did
  /// not arrive.
  double timeout = 600.0;
  friend bool operator==(const DistributedSection&, const DistributedSection&) = default;
};

/// [train]
struct TrainSection {
  /// auto (nullopt: the training plan's first exact objective) | exact |
  /// decoupled | local_dsm | sliced | flow_matching
  std::optional<lang::ObjectiveKind> objective;
  std::int64_t steps = 100000;
  int batch_size = 64;
  double lr = 2e-4;
  std::int64_t warmup = 5000;
  double grad_clip = 1.0;  ///< 0 = off
  double ema = 0.9999;
  std::uint64_t seed = 0;
  std::int64_t checkpoint_every = 5000;
  std::int64_t sample_every = 5000;  ///< 0 = never
  std::int64_t log_every = 100;
  TimeSampling time_sampling = TimeSampling::uniform;
  double p_mean = -1.2;                               ///< log_normal: EDM's P_mean of ln σ̄
  double p_std = 1.2;                                 ///< log_normal: EDM's P_std of ln σ̄
  Projections projections = Projections::rademacher;  ///< sliced score matching
  PriorChoice prior = PriorChoice::automatic;
  LossWeighting weighting = LossWeighting::automatic;  ///< the denoiser's loss over modes
  std::int64_t prior_fit_images = 1000;
  bool mixed_precision = true;  ///< bf16 autocast on CUDA; ignored on CPU
  /// Joint training of learnable schedules (docs/learnable_schedules.md):
  /// the knots' peak learning rate (0: the knots stay at their init), the
  /// offset c of the objective's weight, Hutchinson directions per step.
  double schedule_lr = 1e-3;
  double schedule_offset = 0.5;
  int schedule_probes = 1;
  DistributedSection distributed;
  friend bool operator==(const TrainSection&, const TrainSection&) = default;
};

/// [autoencoder]: the latent space's shape (for a user's TorchScript pair
/// too, whose shapes are checked against it) and `spdec run autoencoder`'s
/// network and training (docs/latent.md).
struct AutoencoderSection {
  int latent_channels = 4;
  int factor = 4;     ///< downsampling factor, a power of two: latent side = data.size / factor
  int channels = 64;  ///< the first level's width, doubled at each downsampling
  double kl_weight = 1e-6;  ///< the KL term's weight against the summed reconstruction error
  int scales = 3;           ///< levels of the multi-scale reconstruction loss
  std::int64_t steps = 5000;
  int batch_size = 64;
  double lr = 1e-3;
  std::uint64_t seed = 0;
  std::int64_t log_every = 100;
  friend bool operator==(const AutoencoderSection&, const AutoencoderSection&) = default;
};

/// [sample]: `spdec run sample`.
struct SampleSection {
  Sampler sampler = Sampler::automatic;
  Integrator integrator = Integrator::heun;  ///< ode and flow matching
  int steps = 1000;
  int corrector_steps = 1;
  double snr = 0.16;
  bool denoise = true;  ///< final Tweedie step at t0
  GridChoice grid = GridChoice::automatic;
  double rho = 7.0;                            ///< power grid's ρ
  double eta = 1.0;                            ///< posterior: 1 ancestral, 0 deterministic (DDIM)
  int order = 2;                               ///< exponential: 1 or 2
  double churn = 0.0;                          ///< heun: EDM's S_churn (0: deterministic)
  bool variance_correction = false;            ///< posterior: Γ from held-out images
  int variance_images = 256;                   ///< held-out images for Γ
  SamplePrior prior = SamplePrior::automatic;  ///< x_T: the checkpoint's Gaussian or the data
  int prior_images = 10000;                    ///< training images the `simulate` prior draws from
  int n = 64;
  int batch_size = 64;
  std::uint64_t seed = 0;
  std::optional<int> label;  ///< class-conditional models; absent = random labels
  double guidance = 0.0;     ///< classifier-free guidance weight; 0 = none
  bool ema = true;           ///< EMA weights
  std::string checkpoint;    ///< default: the run directory's latest; absolute once loaded
  /// Name stem of the outputs, <stem>.png and <stem>.npy, relative to run.dir
  /// (a second sample job need not overwrite the first's).
  std::string output = "samples";
  friend bool operator==(const SampleSection&, const SampleSection&) = default;
};

/// [edit]: `spdec run edit` (SDEdit: guided image synthesis from strokes).
struct EditSection {
  /// Where an edit starts, as a fraction of the process's time range:
  /// s = t0 + strength·(T − t0) (flow matching: s = strength); 1 ignores the
  /// input, small values keep it. diffusers' img2img `strength`.
  double strength = 0.5;
  /// The strengths of the sweep (one edit of every input at each).
  std::vector<double> sweep{0.2, 0.4, 0.6, 0.8, 1.0};
  int seeds = 4;   ///< edits of every input at `strength`, with different noise
  int images = 8;  ///< without --input: this many data images (eval.split) made strokes
  /// Inputs given as files go through the stroke simulator too (data
  /// images always do).
  bool strokes = false;
  int stroke_levels = 4;  ///< grey (or per-channel) levels of a stroke painting
  int stroke_width = 0;   ///< the median filter's width (odd); 0: about a tenth of the side
  /// Name stem of the outputs, relative to run.dir: <stem>.png (the grid),
  /// <stem>.npy, <stem>.json.
  std::string output = "edit";
  friend bool operator==(const EditSection&, const EditSection&) = default;
};

/// [eval]: `spdec run eval`.
struct EvalSection {
  int n = 10000;
  int batch_size = 256;
  std::string feature_extractor;  ///< a TorchScript file; absolute once loaded; empty = none
  int feature_image_size = 299;   ///< the TorchScript network's input side; 0 = the images' own
  std::string
      classifier;  ///< `spdec run classifier`'s classifier.pt; absolute once loaded; empty = none
  std::vector<Metric> metrics{Metric::fid, Metric::kid, Metric::is};
  int precision_recall_k = 3;  ///< neighbours of the improved precision/recall
  Split split = Split::test;
  std::uint64_t seed = 0;
  friend bool operator==(const EvalSection&, const EvalSection&) = default;
};

struct RunConfig {
  RunSection run;
  ProcessSection process;
  DataSection data;
  ForwardSection forward;
  ModelSection model;
  AutoencoderSection autoencoder;
  TrainSection train;
  SampleSection sample;
  EditSection edit;
  EvalSection eval;

  std::string source_path;  ///< the TOML file it came from (not part of equality)

  friend bool operator==(const RunConfig& a, const RunConfig& b) {
    return a.run == b.run && a.process == b.process && a.data == b.data && a.forward == b.forward &&
           a.model == b.model && a.autoencoder == b.autoencoder && a.train == b.train &&
           a.sample == b.sample && a.edit == b.edit && a.eval == b.eval;
  }
};

struct LoadOptions {
  /// Also check the `.spde` (parameter names, override values). Off only for
  /// tests that use a process file that does not exist.
  bool check_process = true;
  /// Directories searched for `process.file` after the TOML file's own:
  /// default $SPDEC_LIBRARY_DIR, then the source tree's library/.
  std::vector<std::filesystem::path> library_dirs;
};

/// Loads, validates and resolves a run: defaults filled in, `overrides`
/// (`section.key=value`) applied over the file, paths made absolute, the
/// process file found and its params checked. nullopt when anything was
/// wrong (all of it reported into `diagnostics`).
[[nodiscard]] std::optional<RunConfig> load_run_config(const std::string& path,
                                                       const std::vector<std::string>& overrides,
                                                       lang::Diagnostics& diagnostics,
                                                       const LoadOptions& options = {});

/// As load_run_config, from text; relative paths resolve against `base_dir`.
[[nodiscard]] std::optional<RunConfig> parse_run_config(const std::string& text,
                                                        const std::string& display_path,
                                                        const std::filesystem::path& base_dir,
                                                        const std::vector<std::string>& overrides,
                                                        lang::Diagnostics& diagnostics,
                                                        const LoadOptions& options = {});

/// A rejected configuration, its diagnostics rendered.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// load_run_config that throws ConfigError with the rendered diagnostics.
[[nodiscard]] RunConfig load_run_config_or_throw(const std::string& path,
                                                 const std::vector<std::string>& overrides = {},
                                                 const LoadOptions& options = {});

/// Checks the run's process: the `.spde` with `process.params` applied and
/// `process.semantics` when it is not `declared` (then reclassified).
[[nodiscard]] std::optional<lang::Process> check_process(const RunConfig& config,
                                                         lang::Diagnostics& diagnostics);

/// The fully resolved config as TOML text: every key, in schema order.
/// Loading it again gives an equal RunConfig.
[[nodiscard]] std::string resolved_toml(const RunConfig& config);

/// Writes resolved_toml to <run.dir>/<name> (config.toml unless a job must
/// not replace a trained run's config.toml, specs/RUN_CONFIG.md) atomically
/// (temp + rename), creating the directory. Returns the file's path; throws
/// ConfigError on an I/O failure.
std::filesystem::path save_resolved(const RunConfig& config,
                                    const std::string& name = "config.toml");

/// The path inside the run directory for an output name (absolute names kept).
[[nodiscard]] std::filesystem::path run_path(const RunConfig& config, const std::string& name);

/// A key whose value differs between two configs, each value as TOML text
/// ("absent" where one config lacks the key, as process.params do).
struct KeyDifference {
  std::string key;  ///< dotted: process.params.K, model.base_channels
  std::string first;
  std::string second;
  friend bool operator==(const KeyDifference&, const KeyDifference&) = default;
};

/// The keys under `sections` (e.g. {"process", "model"}) whose resolved
/// values differ between `first` and `second`, sorted by key
/// (process.params flattened to process.params.NAME).
[[nodiscard]] std::vector<KeyDifference> differing_keys(const RunConfig& first,
                                                        const RunConfig& second,
                                                        const std::vector<std::string>& sections);

/// The sections a trained run fixes: what its checkpoint was trained on and
/// with ([process] but process.backend, [data], [model], [autoencoder], [train]).
inline const std::vector<std::string> kTrainedSections{"process", "data", "model", "autoencoder",
                                                       "train"};

/// Whether the run's process runs in an autoencoder's latent space
/// (model.autoencoder is set).
[[nodiscard]] bool is_latent(const RunConfig& config);

/// The side of the grid the process and the network see: data.size, or in
/// latent space data.size / autoencoder.factor (the process's `size`).
[[nodiscard]] int model_side(const RunConfig& config);

/// Whether `spec` names the run `trained` is the config.toml of: the same
/// run.name and process.file (the spec a run was trained from, or its
/// config.toml itself, with any overrides).
[[nodiscard]] bool is_same_run(const RunConfig& spec, const RunConfig& trained);

/// `spec` with the trained run's kTrainedSections (`spdec run sample` on a
/// trained run.dir): the jobs that use a checkpoint take what it was trained
/// with from the run, and the rest ([run], [sample], [eval], [forward],
/// process.backend) from the spec.
[[nodiscard]] RunConfig with_trained_run(const RunConfig& spec, const RunConfig& trained);

/// The valid values of the enumerated keys, from their tables
/// (runtime/config/choices.hpp; for help texts and tests).
[[nodiscard]] const std::vector<std::string>& valid_values(const std::string& key);

}  // namespace spdec::config
