// Predictor–corrector sampling (the paper's algorithm 3.1; docs/design.md §5) over any
// process model and any score function.
//
// From x_T the sampler walks the time grid T = t_0 > … > t_N = t₀
// (runtime/sampling/time_grid.hpp). At each t_i (i < N):
//   corrector  n Langevin steps preconditioned by the marginal covariance
//              Σ_t (below), x ← x + ε Σ s + √(2ε) Σ^{1/2} z, with the
//              signal-to-noise rule ε = 2 (snr ‖z‖ / ‖Σ^{1/2} s‖)² per sample
//              (score_sde's LangevinCorrector, in the coordinates where Σ_t
//              is the identity);
//   predictor  t_i → t_{i+1}:
//              reverse_sde  Euler–Maruyama on the reverse SDE (the model's
//                           reverse_step: eq. 20, or the Tweedie drift for
//                           decoupled semantics);
//              ode_euler    x += (t_{i+1} − t_i) v(x, t_i), v the probability flow;
//              ode_heun     Heun's second-order step on the same ODE (EDM alg. 1);
//              ancestral    the exact transition of a linear process, from
//                           the score (kept for ε-networks);
//              posterior    the exact posterior step given the denoiser's
//                           x̂₀ (ProcessModel::posterior_step: linear per
//                           mode, decoupled as the noise's bridge), with
//                           DDIM's η and Analytic-DPM's Γ; stable at any h;
//              exponential  the probability-flow ODE integrated exactly in
//                           its linear part, mode by mode, in λ = log(m/s):
//                           DPM-Solver++ (Lu et al. 2022, arXiv:2211.01095)
//                           per mode, order 1 (= DDIM η = 0) or 2 (2M);
//                           linear processes;
//              heun         EDM's Heun step (Karras et al. 2022,
//                           arXiv:2206.00364, algorithms 1 and 2) run in
//                           each mode's own noise level σ_k = √M_k of a
//                           spectral variance-exploding process, on EDM's
//                           ρ-grid of the reference clock σ̄
//                           (runtime/sampling/sigma_clock.hpp), with
//                           optional churn; 2 evaluations a step, and with
//                           `denoise` the final denoising is EDM's last
//                           (Euler) step to σ = 0: 2N + 1 evaluations for
//                           N steps.
// Then, when `denoise`, the denoiser's x̂₀ at t₀ replaces x (one more
// network evaluation).
//
// The corrector is preconditioned by the marginal noise covariance Σ_t of
// X_t | x₀ (per mode s_k² for a linear process), not by Q: Langevin on a mode
// of variance V is stable for εP/V < 2, and with P = g²Q the modes the drift
// has erased (V ≈ g²/2Λ) would need ε < 1/Λ, which the snr rule cannot see.
//
// Every sampler is driven by a denoiser and a score at once: whichever the
// network gives, the other comes through the process model
// (runtime/process/denoiser.hpp).
//
// Noise: every draw is the Philox stream of (seed, sample id, step): corrector
// j at level i draws step i(n+1) + j, the predictor step i(n+1) + n, the prior
// kPriorStep. A sample is therefore the same whatever batch it is drawn in.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/process/denoiser.hpp"
#include "runtime/process/process_model.hpp"
#include "runtime/process/score_function.hpp"
#include "runtime/sampling/time_grid.hpp"
#include "runtime/spectral/prior.hpp"

namespace spdec::runtime {

enum class Predictor { reverse_sde, ode_euler, ode_heun, ancestral, posterior, exponential, heun };

/// "reverse_sde" | "ode_euler" | "ode_heun" | "ancestral" | "posterior" |
/// "exponential" | "heun"; throws naming the value.
[[nodiscard]] Predictor parse_predictor(const std::string& text);
[[nodiscard]] const char* name(Predictor predictor);

struct SamplerOptions {
  Predictor predictor = Predictor::reverse_sde;
  std::int64_t steps = 1000;  ///< predictor steps from the start time to t₀
  /// The time x starts at: T (unset) for a draw from the prior; earlier for
  /// an edit (SDEdit), where x is an image pushed forward to this time.
  std::optional<double> start_time;
  std::int64_t corrector_steps = 0;  ///< Langevin steps per level
  double snr = 0.16;                 ///< the corrector's signal-to-noise ratio
  bool denoise = true;               ///< Tweedie at t₀
  TimeGrid grid;
  double eta = 1.0;  ///< posterior: 1 ancestral, 0 deterministic (DDIM)
  int order = 2;     ///< exponential: 1 or 2
  /// heun: EDM's S_churn (0: deterministic). Step i first raises the noise
  /// level by γ = min(churn / (steps + 1), √2 − 1) (EDM's N = steps + 1)
  /// with fresh noise, never beyond T; the final denoising has none (EDM
  /// with S_tmin > σ_min).
  double churn = 0.0;
  /// posterior: Γ_k(t) = E Var(x₀,k | x_t) per mode (see PosteriorStep);
  /// empty: none.
  std::function<at::Tensor(double)> x0_variance;
  /// Clamp x̂₀ to [lo, hi] (the data range) before it is used; lo > hi: off.
  double clip_lo = 1.0;
  double clip_hi = -1.0;
  std::uint64_t seed = 0;
  at::Tensor sample_ids;  ///< int64 [N], the noise stream per sample (undefined: 0..N−1)
  /// Called after each predictor step (done, total), e.g. for a progress bar.
  std::function<void(std::int64_t, std::int64_t)> progress;
};

/// The times the sampler visits: options.start_time (or T) down to t₀ on
/// options.grid (heun: EDM's σ grid with ρ = options.grid.rho),
/// options.steps steps.
[[nodiscard]] std::vector<double> sampler_times(const ProcessModel& model,
                                                const SamplerOptions& options);

/// The Philox step of the prior draw.
inline constexpr std::uint64_t kPriorStep = std::uint64_t{1} << 41U;

/// x_T per sample: prior.transform_white(ξ), ξ the Philox draw (seed, id,
/// kPriorStep); float32 [n, C, H, W] on `device`.
[[nodiscard]] at::Tensor draw_prior(ProcessModel& model, const GaussianPrior& prior, std::int64_t n,
                                    std::uint64_t seed, const at::Tensor& sample_ids,
                                    const at::Device& device);

/// Runs the sampler from x_T (float32 [N, C, H, W] at T; heun also float64,
/// for oracles); returns the samples at t₀ (denoised when asked: float32).
[[nodiscard]] at::Tensor sample(ProcessModel& model, ScoreFunction& score, const at::Tensor& x_T,
                                const SamplerOptions& options);
/// The same driven by a denoiser.
[[nodiscard]] at::Tensor sample(ProcessModel& model, Denoiser& denoiser, const at::Tensor& x_T,
                                const SamplerOptions& options);

/// Whether the predictor steps the drift explicitly (reverse_sde, ode_*):
/// those are unstable where h·Λ > 2, Λ the fastest decay rate of the drift.
[[nodiscard]] bool is_explicit(Predictor predictor);

/// When an explicit predictor's steps violate h·Λ(t) ≤ 2 somewhere on the
/// grid, a warning naming the worst step and the step count that would be
/// stable; else empty. Λ(t) is measured through the kernels: the largest
/// gain of the drift linearised at the zero state (power iteration).
[[nodiscard]] std::string stability_warning(ProcessModel& model, const SamplerOptions& options);

}  // namespace spdec::runtime
