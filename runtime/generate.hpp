// Drawing images from a trained network: the prior at T (or white noise for
// flow matching), then a sampler of runtime/sampler.hpp (or the flow ODE),
// batch by batch. Sample i always uses the noise streams of id i, so a
// sample does not depend on the batch size or on how many are drawn.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "runtime/config/run_config.hpp"
#include "runtime/objective.hpp"
#include "runtime/prior.hpp"
#include "runtime/process_model.hpp"
#include "runtime/unet.hpp"

namespace spdec::runtime {

struct GenerateRequest {
  std::int64_t n = 64;
  std::int64_t batch_size = 64;
  std::uint64_t seed = 0;
  std::string sampler = "pc";       ///< pc | ode | ancestral
  std::string integrator = "heun";  ///< ode and flow matching: euler | heun
  std::int64_t steps = 1000;
  std::int64_t corrector_steps = 1;  ///< pc only
  double snr = 0.16;
  bool denoise = true;
  std::optional<std::int64_t> label;  ///< class-conditional: all this label; else random
  double guidance = 0.0;
  /// (done, total) predictor steps over all batches.
  std::function<void(std::int64_t, std::int64_t)> progress;
};

/// The request of a run's [sample] section.
[[nodiscard]] GenerateRequest generate_request(const config::SampleSection& sample);

/// Labels for samples first..first+n−1: `label` for all, or uniform random
/// classes keyed by (seed, sample id); undefined for unconditional nets.
[[nodiscard]] at::Tensor sample_labels(const GenerateRequest& request, std::int64_t num_classes,
                                       std::int64_t first, std::int64_t n,
                                       const at::Device& device);

/// n samples [n, C, H, W] float32 on the CPU, not clamped. `net` is used in
/// eval mode (its mode is restored). prior: required unless flow matching.
[[nodiscard]] at::Tensor generate(ProcessModel& model, UNet net, ObjectiveKind objective,
                                  const std::optional<GaussianPrior>& prior,
                                  const GenerateRequest& request);

/// How many of images [N, ...] hold a NaN or an infinity: samples on which
/// the sampler diverged (they are kept as they are, never silently repaired).
[[nodiscard]] std::int64_t non_finite_images(const at::Tensor& images);

/// What to say about k diverged samples of n: the likely cause and the fix.
[[nodiscard]] std::string non_finite_message(std::int64_t k, std::int64_t n);

}  // namespace spdec::runtime
