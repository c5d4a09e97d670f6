// The hand-written baselines of kernels_bench (compiled with -O3
// -march=native -fno-math-errno -fopenmp, bench/CMakeLists.txt): what a
// programmer would write for library/perona_malik.spde without spdec, and a
// copy kernel as the machine's bandwidth roofline.
//
// The drift is the process's (scheme paper, gradient difference, Neumann):
//   k(p)  = α1 / sqrt(1 + |∇u(p) / λ1|²),  ∇u(p) = (u[x+1] − u[x−1], u[y+1] − u[y−1])
//   b(p)  = (k_E (u_E − u) − k_W (u − u_W)) + (k_S (u_S − u) − k_N (u − u_N)),
// k_E = k(x+1, y) etc. (the conductance at the neighbour node), every read
// clamped to the grid. The same operations in the same order as the
// process's IR (`spdec compile --emit ir`: the division by λ1, not a
// multiplication by 1/λ1²), so kernels_bench can require the hand-written
// drift to equal the generated one bit for bit: the baseline computes the
// same thing, it only is written by hand. Two passes per (sample, channel)
// plane: the conductance of every node into a plane buffer, then the
// fluxes; the interior (no clamp) split from the clamped edges.
#pragma once

#include <cstdint>
#include <vector>

namespace spdec::bench {

/// The time-stage values of perona_malik at one t (host double, kernel float).
struct PeronaMalikCoefficients {
  float alpha1 = 0;
  float lambda1 = 0;
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
