// Drawing images from a trained network: the prior at T (or white noise for
// flow matching), then a sampler of runtime/sampling/sampler.hpp (or the flow ODE),
// batch by batch. Sample i always uses the noise streams of id i, so a
// sample does not depend on the batch size or on how many are drawn — up to
// the last bits of a CPU kernel's rounding, which can depend on the batch
// size (a matrix product of one row sums in another order than of two).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "runtime/config/run_config.hpp"
#include "runtime/nn/unet.hpp"
#include "runtime/process/preconditioner.hpp"
#include "runtime/process/process_model.hpp"
#include "runtime/sampling/time_grid.hpp"
#include "runtime/spectral/prior.hpp"
#include "runtime/training/objective.hpp"

namespace spdec::runtime {

struct GenerateRequest {
  std::int64_t n = 64;
  /// The ids of the samples: first .. first + n − 1 (a rank's shard of a
  /// draw keeps the ids, and so the samples, it has in the whole).
  std::int64_t first = 0;
  std::int64_t batch_size = 64;
  std::uint64_t seed = 0;
  /// auto: posterior for linear and decoupled processes, pc for sde semantics.
  config::Sampler sampler = config::Sampler::automatic;
  config::Integrator integrator = config::Integrator::heun;  ///< ode and flow matching
  std::int64_t steps = 1000;
  std::int64_t corrector_steps = 1;  ///< pc only
  double snr = 0.16;
  bool denoise = true;
  /// auto: for posterior and exponential the grid the Gaussian oracle ranks
  /// best, runtime/sampling/grid_choice.hpp; else uniform.
  config::GridChoice grid = config::GridChoice::automatic;
  double rho = 7.0;  ///< power grid's ρ
  /// The grid `grid = auto` resolved to (resolve_sampler's), so that it is
  /// ranked once per run rather than once per batch; empty: resolve here.
  std::optional<TimeGrid> chosen_grid;
  double eta = 1.0;  ///< posterior: DDIM's η
  int order = 2;     ///< exponential: 1 or 2
  double churn = 0;  ///< heun: EDM's S_churn
  /// x̂₀ is clamped to [clip_lo, clip_hi] (the data range) inside the
  /// sampler; lo > hi: not clamped.
  double clip_lo = 1.0;
  double clip_hi = -1.0;
  /// posterior on a linear process with a denoiser: held-out images whose
  /// denoising error gives Γ (runtime/sampling/posterior_variance.hpp), tabulated at
  /// up to 32 of the grid's times before sampling; undefined: no Γ.
  at::Tensor held_out;
  /// Training images [N, C, H, W] the prior at T is drawn from
  /// (runtime/sampling/data_prior.hpp); undefined: the checkpoint's Gaussian.
  at::Tensor prior_images;
  /// An edit (SDEdit, Meng et al. 2022) instead of a draw from the prior:
  /// sample i starts from edit_inputs[i mod N] ([N, C, H, W], the data
  /// range) pushed forward to edit_time with sample i's noise, and the
  /// sampler runs from there (runtime/sampling/edit_start.hpp). Undefined:
  /// generation from T.
  at::Tensor edit_inputs;
  double edit_time = 0.0;
  std::optional<std::int64_t> label;  ///< class-conditional: all this label; else random
  double guidance = 0.0;
  /// (done, total) predictor steps over all batches.
  std::function<void(std::int64_t, std::int64_t)> progress;
};

/// The request of a run's [sample] section, x̂₀ clamped to its data range.
[[nodiscard]] GenerateRequest generate_request(const config::RunConfig& config);

/// How a trained network's output is read.
struct NetworkHead {
  ObjectiveKind objective = ObjectiveKind::exact;
  Parameterisation parameterisation = Parameterisation::noise;
  std::optional<Preconditioner> preconditioner;            ///< denoiser only
  config::TimeInput time_input = config::TimeInput::time;  ///< model.time_input
};

/// The head of a checkpoint: its objective, its parameterisation ("noise" |
/// "denoiser") and, for a denoiser, the data spectrum it was trained with.
[[nodiscard]] NetworkHead network_head(ObjectiveKind objective, Parameterisation parameterisation,
                                       const std::optional<GaussianPrior>& data_spectrum);

/// The sampler `request` resolves to for `model` ("auto" decided), with a
/// warning line when an explicit sampler is unstable at its step count
/// (stability_warning); throws naming the value when it cannot serve.
struct ResolvedSampler {
  std::string name;
  TimeGrid time_grid;  ///< what `grid` resolved to (set it as chosen_grid)
  std::string grid;    ///< e.g. "power (rho 3), Gaussian-oracle error 0.012"
  std::string warning;
};
[[nodiscard]] ResolvedSampler resolve_sampler(const GenerateRequest& request, ProcessModel& model,
                                              const NetworkHead& head);

/// Labels for samples first..first+n−1: `label` for all, or uniform random
/// classes keyed by (seed, sample id); undefined for unconditional nets.
[[nodiscard]] at::Tensor sample_labels(const GenerateRequest& request, std::int64_t num_classes,
                                       std::int64_t first, std::int64_t n,
                                       const at::Device& device);

/// n samples [n, C, H, W] float32 on the CPU, not clamped. `net` is used in
/// eval mode (its mode is restored). prior: required unless flow matching
/// or request.prior_images is set.
[[nodiscard]] at::Tensor generate(ProcessModel& model, UNet net, const NetworkHead& head,
                                  const std::optional<GaussianPrior>& prior,
                                  const GenerateRequest& request);
/// The same for an ε-network (or flow matching's velocity network).
[[nodiscard]] at::Tensor generate(ProcessModel& model, UNet net, ObjectiveKind objective,
                                  const std::optional<GaussianPrior>& prior,
                                  const GenerateRequest& request);

/// How many of images [N, ...] hold a NaN or an infinity: samples on which
/// the sampler diverged (they are kept as they are, never silently repaired).
[[nodiscard]] std::int64_t non_finite_images(const at::Tensor& images);

/// What to say about k diverged samples of n: the likely cause and the fix.
[[nodiscard]] std::string non_finite_message(std::int64_t k, std::int64_t n);

}  // namespace spdec::runtime
