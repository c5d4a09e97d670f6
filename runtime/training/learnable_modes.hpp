// Which learnable schedule drives each spectral mode, for joint training of
// the knots (runtime/training/schedule_objective.hpp).
//
// The trajectory objective of Liu, Li & Cheng 2026 ("Variational trajectory
// optimization of anisotropic diffusion schedules", arXiv:2602.19512) and its
// θ-gradient estimator are derived for a variance-exploding process
// x_t = x_0 + M_t^{1/2} ε with M_t = ∫₀ᵗ Q(s) ds, where ∂p/∂M = ½∇²p holds.
// spdec trains knots where that is exact and refuses every other process:
//
//   drift = 0, a constant diffusion σ, a spectral filter F(κ, t) whose
//   square, per mode k, is a constant times one learnable schedule:
//     σ² F(κ_k, t)² = c_k · g_{j(k)}(t)   for every mode k
//
// so that M_t = diag_k(c_k · ∫₀ᵗ g_{j(k)}) in the boundary's basis.
// library/two_subspace.spde is of this form (c_k = 1; g on the low modes, h
// on the others); a drift, a non-linear process, a diffusion that changes, or
// a filter that mixes t or several schedules into one mode is refused, naming
// the process's file and what breaks the form.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "lang/process.hpp"
#include "runtime/spectral/noise_operator.hpp"
#include "runtime/training/learned_schedule.hpp"

namespace spdec::runtime {

struct LearnableModes {
  /// Per learnable schedule: c_k on the modes it drives, 0 elsewhere,
  /// [H, W] double on the CPU in the spectral layout of the basis.
  std::vector<at::Tensor> coefficients;
};

/// The mode map of `process` on `noise`'s grid. Throws std::runtime_error
/// naming the process's file when the process is not of the form above.
[[nodiscard]] LearnableModes learnable_modes(const lang::Process& process,
                                             const NoiseOperator& noise);

/// M_t per sample and mode, [B, 1, H, W] double: Σ_j c_j · M_j(t_b),
/// differentiable in the schedules' parameters. `times` [B] double.
[[nodiscard]] at::Tensor mode_variances(const LearnableModes& modes,
                                        const LearnedSchedules& schedules, const at::Tensor& times);
/// The rate Ṁ_t per sample and mode, [B, 1, H, W] double, differentiable.
[[nodiscard]] at::Tensor mode_rates(const LearnableModes& modes, const LearnedSchedules& schedules,
                                    const at::Tensor& times);

}  // namespace spdec::runtime
