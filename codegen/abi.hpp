// The calling convention between the runtime and generated kernels.
//
// Every entry point of a generated module takes one `spdec_args` (by pointer
// on the CPU, by value as the CUDA kernel parameter). The struct is defined
// once, by the field list below, for both the host (KernelArgs) and the
// generated source (kKernelArgsSource), so the two cannot drift apart; only
// 8-byte pointers and fixed-size scalars appear, so x86-64 and NVPTX64 lay it
// out identically.
//
// Entry points (the same names on both targets; see codegen/kernels.hpp for
// what each computes and the order the runtime launches them in):
//   spdec_drift, spdec_diffusion, spdec_div_sigma      one value per pixel
//   spdec_drift_norms   scratch ← b, norms[n] += Σ b² (for taming)
//   spdec_forward_update, spdec_flow_update, spdec_reverse_update,
//   spdec_ode_velocity  one step given the norms (when tamed)
//   spdec_noise         out ← the white Philox stream ξ
//   spdec_flow_steps    (CPU only) n fused noise-free steps
//   spdec_fed_steps     (CPU only) one FED cycle: the cached conductances, then its steps
//   spdec_fed_cache, spdec_fed_update   (CUDA) the same, one launch each (update per step)
#pragma once

#include <cstdint>

namespace spdec::codegen {

// X(type, name, comment): the fields of spdec_args, in order.
// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): one list, two renderings
#define SPDEC_KERNEL_ARGS_FIELDS(X)                                                            \
  X(float*, out, "[N,C,H,W] result: b, g2, div Sigma, the new state or the velocity")          \
  X(float*, out2, "[N,C,H,W] flow: accumulated variance (+= dt g2^2 per step), or null")       \
  X(const float*, u, "[N,C,H,W] state")                                                        \
  X(const float*, u0, "[N,C,H,W] initial state (or its estimate), null when not read")         \
  X(const float*, score, "[N,C,H,W] score s, or Q(g2 s) when Q is not the identity")           \
  X(const float*, noise, "[N,C,H,W] correlated noise Q^(1/2) xi, or null: draw white xi")      \
  X(const float*, params, "[P] time-stage values at t (flow: [steps][P], one row per step)")   \
  X(const float*, qdiag, "[H,W] diagonal of Q for div Sigma, or null (= 1)")                   \
  X(const float*, frozen, "[N,C,H,W] fed: the state the conductances are lagged at (null: u)") \
  X(const float*, taus, "[steps] fed: the cycle's step sizes (CPU)")                           \
  X(const float*, params2, "fed: [steps][P] values at each step's midpoint, for g (CPU)")      \
  X(const std::uint64_t*, sample_ids, "[N] noise stream index per sample, or null (= n)")      \
  X(float*, scratch, "workspace, see workspace_floats()")                                      \
  X(float*, norms, "[N] per-sample sum of b^2 (taming)")                                       \
  X(std::int64_t, N, "samples")                                                                \
  X(std::int32_t, C, "channels")                                                               \
  X(std::int32_t, H, "rows")                                                                   \
  X(std::int32_t, W, "columns")                                                                \
  X(std::int32_t, steps, "flow_steps: number of steps")                                        \
  X(float, dt, "step (> 0)")                                                                   \
  X(float, sqrt_dt, "sqrt(dt)")                                                                \
  X(std::int32_t, pad, "(alignment)")                                                          \
  X(std::uint64_t, seed, "noise key")                                                          \
  X(std::uint64_t, step, "noise step index")

// NOLINTNEXTLINE(cppcoreguidelines-macro-usage)
#define SPDEC_DECLARE_FIELD(type, name, comment) type name;

struct KernelArgs {
  SPDEC_KERNEL_ARGS_FIELDS(SPDEC_DECLARE_FIELD)
};

#undef SPDEC_DECLARE_FIELD

/// The generated-source rendering of KernelArgs (as `struct spdec_args`),
/// with std::int32_t → int etc. so that it needs no headers.
[[nodiscard]] const char* kernel_args_source();

}  // namespace spdec::codegen
