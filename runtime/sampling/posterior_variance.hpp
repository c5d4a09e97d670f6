// The variance a point estimate drops, measured: Γ_k(t) = E (D_k(X_t) − x₀,k)²
// per mode, the denoiser's error on held-out images (Bao et al., Analytic-DPM,
// 2022, arXiv:2201.06503, per mode). The posterior sampler adds it back
// through the coefficient of x̂₀ (ProcessModel::posterior_step): for Gaussian
// data and the exact denoiser Γ is the posterior variance and the chain is
// exact at any step count; for a trained network it is the network's actual
// error, which is what the step's variance should carry.
//
// Tabulated at a few times of the sampler's grid, linearly interpolated in t
// (Γ varies smoothly in t), in double [C, H, W] per time (spectral layout).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/process/denoiser.hpp"
#include "runtime/process/process_model.hpp"

namespace spdec::runtime {

class PosteriorVarianceTable {
 public:
  /// Γ at `times` (ascending or not) from held-out images x0 [K, C, H, W]
  /// (perturbed by the model with noise keyed by `seed`); K ≥ 2.
  static PosteriorVarianceTable estimate(ProcessModel& model, Denoiser& denoiser,
                                         const at::Tensor& x0, std::span<const double> times,
                                         std::uint64_t seed);

  /// Γ(t) [C, H, W] double CPU: linear between the tabulated times, the end
  /// values outside them.
  [[nodiscard]] at::Tensor operator()(double t) const;
  [[nodiscard]] std::size_t size() const { return times_.size(); }

 private:
  std::vector<double> times_;  ///< ascending
  std::vector<at::Tensor> gamma_;
};

}  // namespace spdec::runtime
