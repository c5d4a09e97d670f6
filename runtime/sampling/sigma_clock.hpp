// The σ clock of a spectral variance-exploding process, on which the
// anisotropic Heun sampler (runtime/sampling/sampler.hpp, predictor `heun`)
// lays its grid.
//
// A linear process with zero drift keeps every mode's mean (φ_k ≡ 0) and
// lets mode k's variance grow as M_k(t) (LinearProcess::variance): mode k
// is EDM's process in its own noise level σ_k(t) = √M_k(t). The grid is
// chosen on one reference clock, the root mean square noise level
//   σ̄(t) = √(mean_k M_k(t)),
// with EDM's ρ-spacing (Karras, Aittala, Aila & Laine, "Elucidating the
// Design Space of Diffusion-Based Generative Models", 2022,
// arXiv:2206.00364, eq. 5) and mapped back to t; each mode then moves
// along its own σ_k(t) between the grid's times (Liu, Li & Cheng,
// "Variational trajectory optimization of anisotropic diffusion
// schedules", 2026, arXiv:2602.19512). For an isotropic process σ̄ = σ
// and the grid is EDM's.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/spectral/linear_process.hpp"

namespace spdec::runtime {

/// σ̄(t) = √(mean_k M_k(t)).
[[nodiscard]] double reference_sigma(const LinearProcess& process, double t);

/// The t in [lo, hi] with σ̄(t) = sigma (σ̄ is non-decreasing for a VE
/// process) to a relative 1e-14 in σ̄ or the last representable t, by the
/// Illinois method on ln σ̄; sigma outside [σ̄(lo), σ̄(hi)] gives lo or hi.
[[nodiscard]] double time_of_sigma(const LinearProcess& process, double sigma, double lo,
                                   double hi);

/// The N + 1 = steps + 1 times of EDM's σ grid from `start` down to t0:
/// σ̄_i = (σ̄(start)^{1/ρ} + (i/N)(σ̄(t0)^{1/ρ} − σ̄(start)^{1/ρ}))^ρ, t_i its
/// time; the ends are `start` and t0 exactly. (EDM's own N counts the σ's
/// down to σ_min, one more than `steps`: its last step to σ = 0 is the
/// sampler's final denoising.)
[[nodiscard]] std::vector<double> sigma_grid_times(const LinearProcess& process, double start,
                                                   double t0, std::int64_t steps, double rho);

/// Throws std::invalid_argument unless the process is variance exploding
/// on `times`: every mode's mean factor 1 (zero drift) and σ̄ non-decreasing
/// in t. The message names `key` (the config key that asked for it).
void require_variance_exploding(const LinearProcess& process, const std::vector<double>& times,
                                const char* key);

}  // namespace spdec::runtime
