// The noise-free flow Φ_t of du/dt = b(t, u) by Fast Explicit Diffusion with
// a lagged conductance: tens of steps for any t in [0, T] instead of t/Δt
// explicit ones.
//
// Method (Grewenig, Weickert and Bruhn, "From box filtering to fast explicit
// diffusion", DAGM 2010; Weickert, Grewenig, Schroers and Bruhn, "Cyclic
// schemes for PDE-based image analysis", IJCV 2016). A cycle from t_a to t_b
// freezes the conductances at u(t_a) and the time-stage values at their
// cycle means (process_kernels.hpp, FedParams), which gives one linear
// operator A with spectrum in [−L, 0] (L bounded below), and runs n explicit
// steps u ← u + τᵢ A u with
//   τᵢ = τ_max / (2 cos²(π(2i+1)/(4n+2))),  i = 0..n−1,  τ_max = s·2/L (s = safety),
//   Σ τᵢ = τ_max n(n+1)/3,
// n the least with Σ τᵢ ≥ Θ = t_b − t_a, all τᵢ scaled by 3Θ/(τ_max n(n+1)) ≤ 1.
// The inner steps exceed the explicit limit 2/L; the cycle as a whole is
// stable because its amplification polynomial Π(1 − τᵢλ) is bounded by 1 on
// [−L, 0] — which holds only if A is the same at every step, hence the
// freezing of both the conductance and the time-stage values. The steps are
// run in a κ-cycle order (a permutation that interleaves large and small
// steps, after the paper's κ-cycles) to keep float32 round-off from
// amplifying through a run of large steps, and n is capped at max_steps.
//
// The bound L of a cycle is probed, not derived: the lagged operator with the
// cycle's params is applied, at a frozen state, to a unit impulse in the
// middle of a 33 × 33 grid, and L = Σ|Aδ| (its Gershgorin row-sum bound,
// exact for a translation-invariant stencil), the largest over the frozen
// states flat (v = 0) and strong stripes along x, y and both diagonals
// (amplitude 10, period 4). The flat state is where every diffusivity that
// decreases with |∇v| peaks (Perona–Malik's α1/√(1+|∇v/λ1|²) ≤ α1, whose L
// is 8α1 with the 5-point flux; edge-enhancing tensors), and linear drifts
// have one L (heat: 8α1 exactly); the stripes are where a
// coherence-enhancing tensor peaks (diffusivity 1 along coherent structure,
// α across), which the flat state would give as α·I. A drift whose
// conductance peaks in yet another state would need a bound over the frozen
// state itself.
//
// Taming: FED integrates the *untamed* drift. Taming is a stabiliser of
// explicit Euler–Maruyama; a FED cycle is stable without it, so the process's
// `taming` does not apply to Φ computed here (it differs from flow_steps'
// tamed flow by the taming's own O(Δt) bias).
//
// Schedule. FedSchedule is the canonical grid of whole cycles on [0, T]:
// boundaries placed at equal increments of ∫₀ᵗ L(s) ds (operator time) or of
// ∫₀ᵗ L(s)/σ(s) ds (noise-relative, the default; FedGrading), L and σ probed
// at `probe_points` times, then split further where a cycle would need more
// than max_steps. FED's cycle polynomial matches e^{Θλ} only to first order
// whatever n is (its λ² coefficient (Θ² − Σ τᵢ²)/2 stays O(Θ²) off), so
// accuracy comes from the number of cycles, not of steps. Φ_t = the whole cycles up to the last
// boundary t_j ≤ t, then one partial cycle [t_j, t] sized afresh (its own L and n) to land exactly
// on t. So Φ_t is a deterministic function of (x0, t): the batched and two-times forms branch a
// sample off the sweep at t_j and run the same partial cycle, bitwise equal to a direct run
// (tests/runtime/fed_flow_test.cpp).
//
// Accuracy: the lagged conductance makes a cycle first order in its length;
// the table in docs/fed.md measures Φ_fed against the fine explicit flow in
// units of the noise standard deviation √v(t).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/kernels/process_kernels.hpp"

namespace spdec::runtime {

/// Where the whole cycles go (see the schedule above).
enum class FedGrading : std::uint8_t {
  /// Equal increments of ∫ L dt: every cycle about the same number of steps.
  operator_time,
  /// Equal increments of ∫ L/σ dt, σ(t) = √v(t) the noise standard deviation
  /// (v = ∫₀ᵗ mean g², g probed at the flat state): a cycle's error grows
  /// with its operator time Θ·L, and what matters is that error in units of
  /// σ(t), so cycles are short where the noise is small (early) and long
  /// where it is large. Falls back to operator_time for a noise-free process.
  noise_relative,
};

struct FedOptions {
  std::int64_t cycles = 80;         ///< whole cycles on [0, T] (more where max_steps demands)
  std::int64_t max_steps = 25;      ///< inner steps per cycle at most (float32 round-off)
  double safety = 0.99;             ///< τ_max = safety · 2 / L
  std::int64_t probe_points = 257;  ///< times at which L(t) (and σ(t)) are probed
  FedGrading grading = FedGrading::noise_relative;
};

/// L for the lagged operator with the time-stage values of the window
/// [t_begin, t_end] (their means; t_end = t_begin: the values at t_begin).
/// reads_u0: the process reads u0 (drift or diffusion), so the probe passes
/// a flat one.
[[nodiscard]] double fed_operator_bound(ProcessKernels& kernels, double t_begin, double t_end,
                                        bool reads_u0);

/// The n FED step sizes covering `length` at τ_max, in κ-cycle order
/// (Σ = length up to rounding; n from the formula above, at least 1).
[[nodiscard]] std::vector<double> fed_step_sizes(double length, double tau_max);

/// Cycles covering [t_begin, t_end], each sized with its own probed L and
/// at most options.max_steps steps (an interval that needs more is halved).
[[nodiscard]] std::vector<FedCycle> fed_cycles(ProcessKernels& kernels, double t_begin,
                                               double t_end, bool reads_u0,
                                               const FedOptions& options = {});

struct FedSchedule {
  double T = 0;
  bool reads_u0 = false;  ///< the drift or the diffusion reads u0
  FedOptions options;
  std::vector<FedCycle> cycles;  ///< consecutive: cycles[j].t_end == cycles[j+1].t_begin

  /// Throws std::invalid_argument when the process has no FED operator.
  [[nodiscard]] static FedSchedule build(ProcessKernels& kernels, const lang::Process& process,
                                         const FedOptions& options = {});
  /// The number of whole cycles that end at or before t.
  [[nodiscard]] std::size_t whole_cycles(double t) const;
  /// Inner steps of all whole cycles (Φ_T's cost).
  [[nodiscard]] std::int64_t total_steps() const;
};

/// Φ_t(x0) ([N, C, H, W], one t for all): the whole cycles to the last
/// boundary ≤ t, then a partial cycle to t. When `variance` is given (a
/// [N, C, H, W] tensor), adds Σ τ g² over the same steps. u0: the process's
/// u0 field when it reads one (undefined otherwise).
[[nodiscard]] at::Tensor fed_flow(ProcessKernels& kernels, const lang::Process& process,
                                  const at::Tensor& x0, double t, const FedSchedule& schedule,
                                  at::Tensor* variance = nullptr, const at::Tensor& u0 = {});

/// Φ_{t_i}(x0_i) per sample from one sweep (sorted by t; each sample branches
/// off at its last boundary and runs its own partial cycle), bitwise equal
/// to fed_flow of that sample alone. `variance`, when given, receives a new
/// [N, C, H, W] tensor of Σ τ g² per sample.
[[nodiscard]] at::Tensor fed_flow_batch(ProcessKernels& kernels, const lang::Process& process,
                                        const at::Tensor& x0, std::span<const double> t,
                                        const FedSchedule& schedule, at::Tensor* variance = nullptr,
                                        const at::Tensor& u0 = {});

/// Φ_s(x0) and Φ_t(x0) for s ≤ t from one sweep (the sampler's pair), each
/// bitwise equal to fed_flow at its time; variances as in fed_flow (new
/// tensors) when the pointers are given.
struct FedPair {
  at::Tensor at_s;
  at::Tensor at_t;
};
[[nodiscard]] FedPair fed_flow_pair(ProcessKernels& kernels, const lang::Process& process,
                                    const at::Tensor& x0, double s, double t,
                                    const FedSchedule& schedule, at::Tensor* variance_s = nullptr,
                                    at::Tensor* variance_t = nullptr, const at::Tensor& u0 = {});

}  // namespace spdec::runtime
