// The prior at T drawn from the data (`sample.prior = "simulate"`;
// docs/design.md §5): x₀ a training image, X_T | x₀ from the process's own
// perturb — the true marginal at T, whatever of x₀ survives there.
//
// Why: a Gaussian fitted to X_T (runtime/spectral/prior.hpp) is exact only
// when the process forgets x₀ by T. The heat processes never erase the
// image mean, and at unit grid spacing their lowest modes keep most of their
// amplitude at T (e^{−0.3} for the paper's 28-pixel process), so X_T is a
// blurred image plus a little noise: the per-mode Gaussian draws a random
// combination of blurred shapes that no image has, and the sampler, whose
// noise there is far smaller than those modes, cannot repair it. Inverse
// heat dissipation (Rissanen et al. 2023, arXiv:2206.13397) starts from
// blurred training images for the same reason.
//
// What it costs: the surviving coarse content of a sample is a training
// image's (say so when reporting results), and the training images must be
// at hand when sampling.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "runtime/config/choices.hpp"
#include "runtime/process/process_model.hpp"

namespace spdec::runtime {

/// X_T for samples `sample_ids` (int64 [n]): sample i pushes image
/// images[mix(seed, id_i) mod N] through the process to T with the noise
/// stream (seed, id_i), so a sample depends on neither its batch nor n.
/// images [N, C, H, W] (any device); returns float32 [n, C, H, W] on `device`.
[[nodiscard]] at::Tensor simulate_prior(ProcessModel& model, const at::Tensor& images,
                                        std::uint64_t seed, const at::Tensor& sample_ids,
                                        const at::Device& device);

/// The share of X_T's variance across images that x₀ still explains:
/// tr Cov(X_T, X_T') / tr Cov(X_T), X_T and X_T' two independent pushes of
/// `images` (at least 2) to T. Near 0 when
/// the process forgets x₀ (VE, VP), large for the heat processes (their
/// image mean and coarse modes survive). Clamped to [0, 1].
[[nodiscard]] double data_share_at_end(ProcessModel& model, const at::Tensor& images,
                                       std::uint64_t seed);

/// Above this share `sample.prior = "auto"` draws the prior from the data:
/// a Gaussian fit of X_T then misses ≥ 1 % of its variance's structure.
inline constexpr double kDataPriorShare = 0.01;
/// Images data_share_at_end is given: its standard error is then
/// ≈ 1/√(1024·pixels), 0.001 at 28 × 28, far below kDataPriorShare.
inline constexpr std::int64_t kDataShareImages = 1024;

/// What `sample.prior` resolves to, given training images [N, C, H, W].
struct PriorDecision {
  at::Tensor images;   ///< what simulate_prior draws from; undefined: the checkpoint's Gaussian
  std::string reason;  ///< for the log: which prior and, for auto, the share that chose it
};

/// `fitted` keeps the checkpoint's Gaussian, `simulate` takes `images`, and
/// `auto` takes them when data_share_at_end (on the first kDataShareImages
/// of them) exceeds kDataPriorShare.
[[nodiscard]] PriorDecision decide_prior(config::SamplePrior choice, ProcessModel& model,
                                         const at::Tensor& images, std::uint64_t seed);

}  // namespace spdec::runtime
