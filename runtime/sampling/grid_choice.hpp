// Choosing a sampler's time grid by a measured criterion: the Gaussian oracle.
//
// For Gaussian data with the training data's per-mode spectrum, every
// stable sampler here (posterior, exponential) acts on each mode as a
// scalar linear recursion whose coefficients the process model gives in
// closed form. So the error a grid causes can be computed exactly, without
// a network or an image, in milliseconds:
//
//   posterior (η, no Γ)  the final per-mode variance V against the exact
//                        chain's (V_s = (keep + f w_t)² V_t + η² σ̃², w_t the
//                        Wiener gain of the exact denoiser);
//   exponential          the per-mode gain of the probability-flow map
//                        x_T ↦ x_{t₀} against the exact √(V(t₀)/V(T))
//                        (order 1, or the 2M two-term recursion).
//
// The error is the data-variance-weighted mean over modes of the relative
// deviation. For decoupled processes the recursion runs on the model's
// per-mode scales (m = 1, s² the noise variance): a proxy, since the flow
// is not linear.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "runtime/process/process_model.hpp"
#include "runtime/sampling/sampler.hpp"
#include "runtime/sampling/time_grid.hpp"

namespace spdec::runtime {

struct GridCandidate {
  TimeGrid grid;
  double error = 0;  ///< the oracle's error of this grid
};

/// The oracle's error of `options` (its predictor, steps, grid, eta, order)
/// on data with per-mode variance `data_variance` ([H, W] or [C, H, W]
/// double; channels are averaged). Only posterior and exponential.
[[nodiscard]] double gaussian_oracle_error(ProcessModel& model, const at::Tensor& data_variance,
                                           const SamplerOptions& options);

/// The candidates (uniform; power with ρ = 2, 3, 5, 7), each with its error,
/// best first.
[[nodiscard]] std::vector<GridCandidate> rank_time_grids(ProcessModel& model,
                                                         const at::Tensor& data_variance,
                                                         const SamplerOptions& options);

}  // namespace spdec::runtime
