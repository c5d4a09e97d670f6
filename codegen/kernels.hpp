// The kernels every process compiles to (docs/compiler.md, "Kernels"), what each computes, and
// the workspace each needs. Notation: b the drift, g = g₂ the diffusion
// coefficient, d = ∂gᵢ/∂uᵢ, q = diag(Q) (1 for white noise), s the score,
// ζ = Q^{1/2}ξ the noise (white ξ from the Philox stream when Q = I, else
// given), and for taming γ: scale = Δt / (1 + Δt ‖b‖^γ) with ‖b‖ the
// Euclidean norm over one sample (scale = Δt untamed).
//
//   drift         out = b(t, u)
//   diffusion     out = g(t, u)
//   div_sigma     out = 2 g d q                 (∂Σᵢᵢ/∂uᵢ, Σ = diag(g) Q diag(g))
//   noise         out = ξ                        (the white stream, for the runtime
//                                                 to correlate when Q ≠ I)
//   forward_step  out = u + scale b + g √Δt ζ    (tamed Euler–Maruyama, eq. 39)
//   flow_steps    `steps` noise-free steps u ← u + scale b, params row k at step
//                 k; out2 (if given) += Δt g² at each step (multiplicative
//                 noise in decoupled semantics)
//   fed_steps     one cycle of Fast Explicit Diffusion with lagged conductance:
//                 `steps` steps u ← u + τ_k A(v)u (untamed), A(v)u the drift
//                 with every flux conductance read at the frozen state v
//                 (codegen/fed.cpp), computed once per call into cached
//                 fields; the operator's params are row 0 of `params` (the
//                 same for all steps), τ_k = taus[k]; out2 (if given)
//                 += τ_k g(t_k, u_k)² with g's params at params2 row k.
//                 Only for programs with fed.available.
//   reverse_step  out = u − scale b + Δt (div Σ + Σ s) + g √Δt ζ
//                 (reverse-SDE Euler–Maruyama, paper eq. 20)
//   ode_step      out = (scale/Δt) b − ½ (div Σ + Σ s)   (probability-flow velocity)
// with Σ s = g² s when Q = I, else g · score where the runtime passes
// score = Q (g s).
//
// On the CPU each kernel is one entry point (`spdec_<kernel>`) that runs all
// its passes. On CUDA the runtime launches a plan (cuda_plan()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codegen/program.hpp"

namespace spdec::codegen {

enum class KernelKind : std::uint8_t {
  drift,
  diffusion,
  div_sigma,
  noise,
  forward_step,
  flow_steps,
  reverse_step,
  ode_step,
  fed_steps,
};

inline constexpr KernelKind kAllKernels[] = {
    KernelKind::drift,        KernelKind::diffusion,    KernelKind::div_sigma,
    KernelKind::noise,        KernelKind::forward_step, KernelKind::flow_steps,
    KernelKind::reverse_step, KernelKind::ode_step,     KernelKind::fed_steps};

[[nodiscard]] const char* name(KernelKind kind);
/// The CPU entry point: "spdec_" + name.
[[nodiscard]] std::string cpu_entry(KernelKind kind);

/// Floats of `scratch` a kernel needs for a [N, C, H, W] state.
[[nodiscard]] std::int64_t workspace_floats(const StencilProgram& program, KernelKind kind,
                                            std::int64_t N, std::int64_t C, std::int64_t H,
                                            std::int64_t W);

/// CUDA: the entry points a kernel launches, in order. All are one thread
/// per element of [N, C, H, W] (grid-stride), except `spdec_drift_norms`,
/// launched with grid (blocks over one sample, N) and block kCudaBlock, which
/// adds each sample's Σ b² into `norms` (zeroed by the runtime before).
/// flow_steps is launched per step: per step the runtime runs
/// [spdec_drift_norms,] spdec_flow_update with u/out/params moved along.
/// fed_steps lists spdec_fed_cache (launched once per cycle) and
/// spdec_fed_update (launched per step with u/out/dt = τ_k/params2 moved
/// along); the runtime drives that loop.
struct CudaPlan {
  bool zero_norms = false;           ///< the runtime zeroes norms first
  std::vector<std::string> entries;  ///< launched in this order
};
inline constexpr int kCudaBlock = 256;
[[nodiscard]] CudaPlan cuda_plan(const StencilProgram& program, KernelKind kind);

}  // namespace spdec::codegen
