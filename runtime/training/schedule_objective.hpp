// The trajectory-level objective of learnable schedules and its θ-gradient,
// after Liu, Li & Cheng 2026, "Variational trajectory optimization of
// anisotropic diffusion schedules" (arXiv:2602.19512), for the processes
// runtime/training/learnable_modes.hpp accepts: x_t = x_0 + M_t^{1/2} ε with
// M_t diagonal in the boundary's basis, M_t = diag(c_k ∫₀ᵗ g_j(k)).
//
// The flow φ(x, t) = E[−ε | x_t = x] = M_t^{1/2} ∇log p_t(x) is what the
// network estimates; its regression target is φ* = M^{−1/2}(x_0 − x_t) = −ε.
// The loss is the weighted flow-matching error
//
//   L(θ) = E_b ‖W (φ(x_t) − φ*)‖²,   W = diag(Ṁ / √(M (M + c)))
//
// with c = train.schedule_offset (the paper's c, a data-scale constant).
// Its θ-gradient has two parts:
//
//   exact (autograd)   through W, the target and x_t = x_0 + M^{1/2} ε
//                      (the network's input; its time input is θ-free);
//   estimated          ⟨b, ∂_θ φ_θ(x)⟩ at x = x_t, b = ∂L/∂φ: how the
//                      optimal flow itself moves with θ, which only the
//                      network approximates. Gaussian smoothing gives
//                      ∂p/∂M = ½∇²p, hence, with F_b(x) = ⟨b, φ(x)⟩,
//
//     ⟨b, ∂φ⟩ = ½ tr(∂M ∇²F_b) + ⟨∇F_b, ∂M M^{−1/2} φ⟩ + ½ ⟨b, ∂M M^{−1} φ⟩,
//
//   the trace by Hutchinson's estimator: tr A ≈ (d/P) Σ_p e_pᵀ A e_p for P
//   directions e_p uniform on each sample's unit sphere (d = C·H·W), one
//   Hessian-vector product of F_b per direction. The estimate is exact when
//   φ is the optimal flow and the directions are an orthonormal basis
//   (tests/runtime/learned_schedule_test.cpp checks it against a finite
//   difference of L on a Gaussian mixture).
//
// The estimated part enters as a surrogate whose value is zero and whose
// θ-gradient is that term; only the schedules' parameters should take
// gradients of loss + surrogate (the network keeps its own objective).
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "runtime/spectral/spectral_basis.hpp"
#include "runtime/training/learnable_modes.hpp"
#include "runtime/training/learned_schedule.hpp"

namespace spdec::runtime {

/// The network's flow φ(x, t) for states x [B, C, H, W] at times t [B]
/// double; differentiable (twice) in x.
using FlowFunction = std::function<at::Tensor(const at::Tensor& x, const at::Tensor& t)>;

struct ScheduleDraw {
  at::Tensor x0;                   ///< [B, C, H, W]
  at::Tensor noise;                ///< ε, [B, C, H, W], white
  at::Tensor times;                ///< [B] double
  std::vector<at::Tensor> probes;  ///< Hutchinson directions, [B, C, H, W]; none: no trace term
};

struct ScheduleTerms {
  at::Tensor loss;       ///< L, the mean over the batch
  at::Tensor surrogate;  ///< value 0; its θ-gradient is the estimated part
};

[[nodiscard]] ScheduleTerms schedule_terms(const LearnableModes& modes,
                                           const LearnedSchedules& schedules,
                                           const SpectralBasis& basis, const FlowFunction& flow,
                                           const ScheduleDraw& draw, double offset);

/// The flow φ = E[−ε | x_t] that a denoiser's estimate D(x_t) implies for
/// x_t = x_0 + M^{1/2} ε: φ = M^{−1/2}(D(x_t) − x_t), mode by mode (a
/// denoiser network trains the knots through it). `variance` is M per mode,
/// [B, 1 or C, H, W] double; differentiable in `xt` and `denoised`.
[[nodiscard]] at::Tensor flow_of_denoised(const SpectralBasis& basis, const at::Tensor& xt,
                                          const at::Tensor& denoised, const at::Tensor& variance);

/// `count` directions uniform on each sample's unit sphere, shaped like
/// `like`, from a CPU generator seeded with `seed` (a resume draws the same).
[[nodiscard]] std::vector<at::Tensor> sphere_probes(const at::Tensor& like, int count,
                                                    std::uint64_t seed);

}  // namespace spdec::runtime
