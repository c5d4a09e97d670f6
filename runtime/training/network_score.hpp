// The trained network as the rest of the runtime sees it. The U-Net
// (runtime/nn/unet.hpp) takes time normalised to [0, 1] and a label; the
// objectives take a `Network` of (state, process time); the samplers take a
// ScoreFunction. This file is the one place that converts between them.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "runtime/nn/unet.hpp"
#include "runtime/process/denoiser.hpp"
#include "runtime/process/preconditioner.hpp"
#include "runtime/process/process_model.hpp"
#include "runtime/process/score_function.hpp"
#include "runtime/training/objective.hpp"

namespace spdec::runtime {

/// net(x, t / time_scale, labels) as an objective's Network. labels: int64 [N]
/// or undefined (the null label).
[[nodiscard]] Network bind_network(UNet net, double time_scale, at::Tensor labels = {});

/// The network's time input at process times t (float32 [N] on t's
/// device): t / T, or EDM's c_noise = ln σ̄(t) / 4 with σ̄² the mean over
/// modes of the noise variance s² (ModeScales): σ itself for an isotropic
/// VE process. Throws for log_sigma on a model without mode scales.
[[nodiscard]] at::Tensor network_time(ProcessModel& model, config::TimeInput input,
                                      const std::vector<double>& t, const at::Device& device);

/// Per-sample times [N] of any dtype and device, as doubles on the host.
[[nodiscard]] std::vector<double> host_times(const at::Tensor& t);

/// The network's time input during training, for per-sample times t [N]
/// (any dtype and device): t / time_scale (the training loop's scale) for
/// "time", EDM's c_noise as above for "log_sigma"; float32 on `device`.
[[nodiscard]] at::Tensor network_time(ProcessModel& model, config::TimeInput input,
                                      const at::Tensor& t, double time_scale,
                                      const at::Device& device);

/// ε̂ with classifier-free guidance: (1 + w) ε̂(x, c) − w ε̂(x, ∅) (Ho &
/// Salimans 2022); w = 0 is the conditional prediction alone.
[[nodiscard]] at::Tensor guided_output(UNet& net, const at::Tensor& x, const at::Tensor& time,
                                       const at::Tensor& labels, double guidance);

/// The score of an ε-network, s(x, t) = −C_t⁺ᵀ ε̂ (no gradient), for the
/// samplers. Labels (one per row of the batch being sampled) and the
/// guidance weight can change between batches.
class NetworkScore final : public ScoreFunction {
 public:
  NetworkScore(UNet net, ProcessModel& model,
               config::TimeInput time_input = config::TimeInput::time);
  void set_labels(at::Tensor labels, double guidance);
  [[nodiscard]] at::Tensor operator()(const at::Tensor& x, double t) override;

 private:
  UNet net_;
  ProcessModel& model_;
  config::TimeInput time_input_;
  at::Tensor labels_;
  double guidance_ = 0.0;
};

/// The denoiser of a network trained in the denoiser parameterisation:
/// D = preconditioner.denoised(x, F(preconditioner.input(x), t)) with the
/// process's per-mode scales at t (no gradient). Classifier-free guidance
/// mixes F, which is the same as mixing D (D is affine in F).
class NetworkDenoiser final : public Denoiser {
 public:
  NetworkDenoiser(UNet net, ProcessModel& model, const Preconditioner& preconditioner,
                  config::TimeInput time_input = config::TimeInput::time);
  void set_labels(at::Tensor labels, double guidance);
  [[nodiscard]] at::Tensor operator()(const at::Tensor& x, double t) override;

 private:
  UNet net_;
  ProcessModel& model_;
  const Preconditioner& preconditioner_;
  config::TimeInput time_input_;
  at::Tensor labels_;
  double guidance_ = 0.0;
};

}  // namespace spdec::runtime
