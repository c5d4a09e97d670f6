// The ε-parameterisation: a network predicts unit-variance noise ε̂ and the
// score is s = −C_t⁺ᵀ ε̂, C_t the square root of X_t's covariance that the
// process model gives (runtime/spectral/covariance.hpp): exact for linear and
// decoupled processes (where DSM's target is exactly −C_t⁺ᵀ ε), the
// one-step scale √t g Q^{1/2} for sde semantics. Processes whose covariance
// reads u0 get x̂₀ from one fixed-point pass: C from x̂₀ = x, then x̂₀ from
// Tweedie with that score, then C again.
#pragma once

#include <ATen/ATen.h>

#include <span>

#include "runtime/process/process_model.hpp"

namespace spdec::runtime {

/// s = −C_t⁺ᵀ ε̂ for states x at one time t (no gradient through C).
[[nodiscard]] at::Tensor score_from_noise(ProcessModel& model, const at::Tensor& x, double t,
                                          const at::Tensor& eps_hat);

/// The same with a time per sample (rows with equal times share one C).
[[nodiscard]] at::Tensor score_from_noise(ProcessModel& model, const at::Tensor& x,
                                          std::span<const double> t, const at::Tensor& eps_hat);

/// The covariance (and its square root) C_t used above, for states x at t.
[[nodiscard]] Covariance score_covariance(ProcessModel& model, const at::Tensor& x, double t,
                                          const at::Tensor& eps_hat);

}  // namespace spdec::runtime
