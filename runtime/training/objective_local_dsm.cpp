// Local denoising score matching for `semantics sde` (docs/design.md §3; Singhal,
// Goldstein & Ranganath 2024): the chain runs with noise to t − h and its
// last step X_t | X_{t−h} = N(m, L_h L_hᵀ) is the DSM kernel, target
// s* = −L_h⁺ᵀ ε. With h one step this is exact for the chain, but the
// target's variance grows like t/h relative to the score's.
//
// Variance reduction: antithetic endpoints. Each chain gives X⁺ = m + L_h ε
// and X⁻ = m − L_h ε (the same prefix, opposite last noise). To first order
// in L_h ε the network's score is s(m) ± J L_h ε, so the O(1/√h) cross term
// s(m)ᵀ L_h⁺ᵀ ε enters the pair's loss with opposite signs and cancels — the
// same cancellation as the control variate s(m)ᵀ L_h⁺ᵀ ε of Wang et al.
// (2020), without a third network call.
//
// The loss lives in ε-space: the network predicts ε̂ with score −C_t⁺ᵀ ε̂
// (runtime/process/score_parametrization.hpp), the target is ε̂* = −C_tᵀ s* =
// C_tᵀ L_h⁺ᵀ ε, and each sample is weighted by h_i/t_i ≈ 1/Var(ε̂*) so that
// every time contributes O(1).
#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

#include "runtime/base/step_grid.hpp"
#include "runtime/process/score_parametrization.hpp"
#include "runtime/training/objective_kinds.hpp"

namespace spdec::runtime {
namespace {

class LocalDsm final : public Objective {
 public:
  explicit LocalDsm(ProcessModel& model) : model_(model) {}

  [[nodiscard]] ObjectiveKind kind() const override { return ObjectiveKind::local_dsm; }
  [[nodiscard]] double min_time() const override { return process_min_time(model_); }
  [[nodiscard]] double max_time() const override { return model_.end_time(); }

  at::Tensor loss(const Network& network, const TrainingDraw& draw) override {
    const at::Device device = draw.x0.device();
    const std::int64_t n = draw.x0.size(0);
    const Perturbed perturbed = model_.perturb(draw.x0, draw.times, training_noise(draw));
    if (!perturbed.covariance) throw std::logic_error("local_dsm: perturb gave no last step");
    const at::Tensor step_noise = perturbed.xt - perturbed.mean;
    const at::Tensor states = at::cat({perturbed.xt, perturbed.mean - step_noise}, 0).detach();
    std::vector<double> times = draw.times;
    times.insert(times.end(), draw.times.begin(), draw.times.end());

    // s* for both endpoints: ∓L_h⁺ᵀ ε.
    const at::Tensor kernel_score =
        perturbed.covariance->apply_inverse_sqrt_transpose(perturbed.eps);
    const at::Tensor target_score = at::cat({-kernel_score, kernel_score}, 0);

    const at::Tensor eps_hat = network(states, time_tensor(times, device));
    std::vector<at::Tensor> terms;
    terms.reserve(times.size());
    for (std::int64_t i = 0; i < 2 * n; ++i) {
      const double t = times[static_cast<std::size_t>(i)];
      const at::Tensor row = eps_hat.narrow(0, i, 1);
      const Covariance c = score_covariance(model_, states.narrow(0, i, 1), t, row);
      const at::Tensor target =
          -c.apply_sqrt_transpose(target_score.narrow(0, i, 1)).to(row.scalar_type());
      const double h = last_step(t);
      terms.push_back((row - target.detach()).square().mean() * (h / t));
    }
    return at::stack(terms).mean();
  }

 private:
  /// The length of the chain's last step at t (a full Δt, or the rest).
  [[nodiscard]] double last_step(double t) const {
    const double dt = model_.process().time.dt;
    const GridPosition position = grid_position(t, dt);
    return position.rest > 0 ? position.rest : dt;
  }

  ProcessModel& model_;
};

}  // namespace

std::unique_ptr<Objective> make_local_dsm_objective(ProcessModel& model) {
  return std::make_unique<LocalDsm>(model);
}

}  // namespace spdec::runtime
