// Predictor–corrector sampling (paper algorithm 3.1, DESIGN §6.4) over any
// process model and any score function.
//
// From x_T the sampler walks the time grid T = t_0 > … > t_N = t₀
// (runtime/time_grid.hpp). At each t_i (i < N):
//   corrector  n Langevin steps preconditioned by the noise covariance Q,
//              x ← x + ε Q s + √(2ε) Q^{1/2} z, with the signal-to-noise rule
//              ε = 2 (snr ‖z‖ / ‖Q^{1/2} s‖)² per sample (score_sde's
//              LangevinCorrector, in the coordinates where Q is the identity);
//   predictor  t_i → t_{i+1}:
//              reverse_sde  Euler–Maruyama on the reverse SDE (the model's
//                           reverse_step: eq. 20, or the Tweedie drift for
//                           decoupled semantics);
//              ode_euler    x += (t_{i+1} − t_i) v(x, t_i), v the probability flow;
//              ode_heun     Heun's second-order step on the same ODE (EDM alg. 1);
//              ancestral    the exact transition of a linear process.
// Then, when `denoise`, Tweedie's estimate at t₀ replaces x (one more score).
//
// Noise: every draw is the Philox stream of (seed, sample id, step): corrector
// j at level i draws step i(n+1) + j, the predictor step i(n+1) + n, the prior
// kPriorStep. A sample is therefore the same whatever batch it is drawn in.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>

#include "runtime/prior.hpp"
#include "runtime/process_model.hpp"
#include "runtime/score_function.hpp"
#include "runtime/time_grid.hpp"

namespace spdec::runtime {

enum class Predictor { reverse_sde, ode_euler, ode_heun, ancestral };

/// "reverse_sde" | "ode_euler" | "ode_heun" | "ancestral"; throws naming the value.
[[nodiscard]] Predictor parse_predictor(const std::string& text);
[[nodiscard]] const char* name(Predictor predictor);

struct SamplerOptions {
  Predictor predictor = Predictor::reverse_sde;
  std::int64_t steps = 1000;         ///< predictor steps from T to t₀
  std::int64_t corrector_steps = 0;  ///< Langevin steps per level
  double snr = 0.16;                 ///< the corrector's signal-to-noise ratio
  bool denoise = true;               ///< Tweedie at t₀
  TimeGrid grid;
  std::uint64_t seed = 0;
  at::Tensor sample_ids;  ///< int64 [N], the noise stream per sample (undefined: 0..N−1)
  /// Called after each predictor step (done, total), e.g. for a progress bar.
  std::function<void(std::int64_t, std::int64_t)> progress;
};

/// The Philox step of the prior draw.
inline constexpr std::uint64_t kPriorStep = std::uint64_t{1} << 41U;

/// x_T per sample: prior.transform_white(ξ), ξ the Philox draw (seed, id,
/// kPriorStep); float32 [n, C, H, W] on `device`.
[[nodiscard]] at::Tensor draw_prior(ProcessModel& model, const GaussianPrior& prior, std::int64_t n,
                                    std::uint64_t seed, const at::Tensor& sample_ids,
                                    const at::Device& device);

/// Runs the sampler from x_T (float32 [N, C, H, W] at T); returns the
/// samples at t₀ (denoised when asked), float32 like x_T.
[[nodiscard]] at::Tensor sample(ProcessModel& model, ScoreFunction& score, const at::Tensor& x_T,
                                const SamplerOptions& options);

}  // namespace spdec::runtime
