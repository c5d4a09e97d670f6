// Sliced score matching (Song, Garg, Shi & Ermon 2019), variance-reduced
// form: for draws x of X_t and projections v with E[v vᵀ] = I,
//   J(s) = E[ vᵀ ∇ₓ(vᵀ s(x)) + ½ ‖s(x)‖² ],
// which equals the Fisher divergence to the true score up to a constant. It
// needs only samples of X_t, so it serves every semantics (for `sde`, draws
// of the tamed chain itself); the cost is one extra backward pass through the
// network (create_graph) — about twice a DSM step.
//
// The network is ε-parameterised (s = −C_t⁺ᵀ ε̂) and each sample's term is
// weighted by the average variance of C_t, the λ(t) = σ_t² of score_sde,
// which makes the terms O(1) at every time.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>

#include <stdexcept>
#include <utility>
#include <vector>

#include "runtime/base/splitmix.hpp"
#include "runtime/process/score_parametrization.hpp"
#include "runtime/training/objective_kinds.hpp"

namespace spdec::runtime {
namespace {

class Sliced final : public Objective {
 public:
  Sliced(ProcessModel& model, const ObjectiveOptions& options)
      : model_(model), gaussian_(options.projections == config::Projections::gaussian) {}

  [[nodiscard]] ObjectiveKind kind() const override { return ObjectiveKind::sliced; }
  [[nodiscard]] double min_time() const override { return process_min_time(model_); }
  [[nodiscard]] double max_time() const override { return model_.end_time(); }

  at::Tensor loss(const Network& network, const TrainingDraw& draw) override {
    const at::Device device = draw.x0.device();
    const at::Tensor x =
        model_.perturb(draw.x0, draw.times, training_noise(draw)).xt.detach().requires_grad_(true);
    const at::Tensor eps_hat = network(x, time_tensor(draw.times, device));
    const auto [score, weights] = score_and_weights(x, draw.times, eps_hat);
    const at::Tensor v = projections(score, draw);
    const at::Tensor projected = (v * score).sum();
    const at::Tensor grad = torch::autograd::grad({projected}, {x}, {}, /*retain_graph=*/true,
                                                  /*create_graph=*/true)[0];
    const at::Tensor per_sample =
        (v * grad).flatten(1).sum(1) + 0.5 * score.square().flatten(1).sum(1);
    return (per_sample * weights).mean() / static_cast<double>(x[0].numel());
  }

 private:
  /// Rademacher (±1) or Gaussian projections, one per sample, from a CPU
  /// generator keyed by (seed, step): the same after a resume; drawn for the
  /// whole global batch, this rank's rows kept.
  at::Tensor projections(const at::Tensor& like, const TrainingDraw& draw) const {
    at::Generator generator = at::detail::createCPUGenerator(mix(draw.seed, draw.step, 0x51ced));
    const at::TensorOptions cpu = at::TensorOptions().dtype(like.scalar_type());
    std::vector<std::int64_t> shape = like.sizes().vec();
    shape[0] = draw.batch_rows();
    const at::Tensor v = gaussian_ ? at::randn(shape, generator, cpu)
                                   : at::bernoulli(at::full(shape, 0.5, cpu), generator) * 2 - 1;
    return rows_of_draw(v, draw).to(like.device());
  }

  /// The score s_i = −C_i⁺ᵀ ε̂_i (differentiable in ε̂) and the weight λ_i,
  /// the average variance of C_i (no gradient), from one C_i per row.
  std::pair<at::Tensor, at::Tensor> score_and_weights(const at::Tensor& x,
                                                      const std::vector<double>& times,
                                                      const at::Tensor& eps_hat) {
    std::vector<at::Tensor> scores;
    std::vector<double> weights;
    scores.reserve(times.size());
    weights.reserve(times.size());
    for (std::size_t i = 0; i < times.size(); ++i) {
      const auto row = static_cast<std::int64_t>(i);
      const at::Tensor eps_row = eps_hat.narrow(0, row, 1);
      const Covariance c = score_covariance(model_, x.narrow(0, row, 1), times[i], eps_row);
      scores.push_back(-c.apply_inverse_sqrt_transpose(eps_row));
      weights.push_back(c.average_variance());
    }
    return {at::cat(scores, 0), at::tensor(weights, at::TensorOptions().dtype(at::kDouble))
                                    .to(x.device(), x.scalar_type())};
  }

  ProcessModel& model_;
  bool gaussian_;
};

}  // namespace

std::unique_ptr<Objective> make_sliced_objective(ProcessModel& model,
                                                 const ObjectiveOptions& options) {
  return std::make_unique<Sliced>(model, options);
}

}  // namespace spdec::runtime
