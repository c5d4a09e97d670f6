// The hand-written baselines of kernels_bench (compiled with -O3
// -march=native -fno-math-errno -fopenmp, bench/CMakeLists.txt): what a
// programmer would write for library/perona_malik.spde without spdec, and a
// copy kernel as the machine's bandwidth roofline.
//
// The drift is the process's (scheme paper, gradient difference, Neumann):
//   k(p)  = α1 / sqrt(1 + |∇u(p)|² / λ1²),  ∇u(p) = (u[x+1] − u[x−1], u[y+1] − u[y−1])
//   b(p)  = Σ_e k(p+e) (u(p+e) − u(p))      over the four neighbours e,
// every read clamped to the grid. Two passes per (sample, channel) plane:
// the conductance of every node into a plane buffer, then the fluxes; the
// interior (no clamp) split from the clamped edges. kernels_bench checks it
// against the generated drift before timing, so the baseline is honest.
#pragma once

#include <cstdint>
#include <vector>

namespace spdec::bench {

/// The time-stage values of perona_malik at one t (host double, kernel float).
struct PeronaMalikCoefficients {
  float alpha1 = 0;
  float inv_lambda1_sq = 0;  ///< 1 / λ1²
  float alpha2 = 0;
};

/// A [N, C, H, W] float state.
struct Shape {
  std::int64_t n = 0;
  std::int64_t c = 0;
  std::int64_t h = 0;
  std::int64_t w = 0;
  [[nodiscard]] std::int64_t planes() const { return n * c; }
  [[nodiscard]] std::int64_t numel() const { return n * c * h * w; }
};

/// out = b(u).
void hand_drift(const PeronaMalikCoefficients& k, const float* u, float* out, const Shape& shape);

/// `coefficients.size()` tamed explicit steps u ← u + dt/(1 + dt ‖b‖) b (γ = 1,
/// ‖b‖ per sample), coefficients[k] at step k; the result in out. scratch:
/// 2 · numel floats.
void hand_flow_steps(const std::vector<PeronaMalikCoefficients>& coefficients, float dt,
                     const float* u, float* out, float* scratch, const Shape& shape);

/// One tamed Euler–Maruyama step with spdec's Philox stream (seed, sample n,
/// step 0), drawn one group of four at a time:
/// out = u + dt/(1 + dt ‖b‖) b + α2 √dt ξ. scratch: numel floats.
void hand_forward_step(const PeronaMalikCoefficients& k, float dt, std::uint64_t seed,
                       const float* u, float* out, float* scratch, const Shape& shape);

/// out = u (count floats): 8 bytes per float moved, the roofline.
void copy_kernel(const float* u, float* out, std::int64_t count);

}  // namespace spdec::bench
