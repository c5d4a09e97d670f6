// Forward simulation of a process on data: the states at requested times,
// under the process's semantics (docs/design.md §2), and the statistics a
// forward strip reports (`spdec run forward`).
//
//   sde        the tamed Euler–Maruyama chain with noise (forward_step), step
//              Δt, the last step before each requested time shortened so the
//              snapshot lands on it exactly;
//   decoupled  X_t = Φ_t(x₀) + √Σ̄_t ⊙ Q^{1/2}ξ: the noise-free flow
//              (flow_steps, same steps) with the per-pixel accumulated
//              variance Σ̄_t = Σ_k Δt g(t_k, Φ_k)², and fresh noise per
//              snapshot (exact for additive noise; the per-pixel reading of
//              multiplicative noise, LANGUAGE.md §16).
//
// Noise: the Philox stream of (seed, sample id, step) — the same for every
// backend, so compiled and reference simulations agree to rounding — made
// correlated by the spectral operator when Q ≠ I.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lang/process.hpp"
#include "runtime/kernels/process_kernels.hpp"
#include "runtime/spectral/noise_operator.hpp"

namespace spdec::runtime {

struct ForwardOptions {
  std::vector<double> times;  ///< ascending, in [0, T]; 0 = the data itself
  std::uint64_t seed = 0;
  at::Tensor sample_ids;  ///< int64 [N] noise stream per image (undefined: 0..N−1)
};

/// Statistics of one snapshot, averaged over images.
struct SnapshotStats {
  double t = 0;
  double mean = 0;
  double std = 0;
  /// Squared correlation of x_t with x₀ per image (the share of x₀'s
  /// variance a linear fit of x_t still explains), averaged.
  double explained = 0;
  /// Mean squared forward difference |∇x_t|² per pixel: how much edge
  /// structure is left.
  double edge_energy = 0;
};

struct ForwardResult {
  at::Tensor states;  ///< [times, N, C, H, W] float32 on x₀'s device
  std::vector<SnapshotStats> stats;
};

[[nodiscard]] ForwardResult simulate_forward(ProcessKernels& kernels, const lang::Process& process,
                                             const NoiseOperator& noise, const at::Tensor& x0,
                                             const ForwardOptions& options);

/// The statistics of x_t against x₀ ([N, C, H, W] each).
[[nodiscard]] SnapshotStats snapshot_stats(double t, const at::Tensor& xt, const at::Tensor& x0);

}  // namespace spdec::runtime
