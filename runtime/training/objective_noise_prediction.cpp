// Exact denoising score matching in the ε-parameterisation, for the processes
// whose X_t | x₀ is Gaussian and known: linear and decoupled
// (docs/design.md §2). X_t = mean + C_t ε; the network predicts ε, and since the DSM
// target −C_t⁺ᵀ ε is linear in ε, ‖ε̂ − ε‖² is DSM weighted by C_tᵀ C_t — the
// weighting of Ho et al. and score_sde's λ(t) = σ_t² generalised to
// correlated noise.
#include <utility>

#include "runtime/training/objective_kinds.hpp"

namespace spdec::runtime {
namespace {

class NoisePrediction final : public Objective {
 public:
  NoisePrediction(ObjectiveKind kind, ProcessModel& model) : kind_(kind), model_(model) {}

  [[nodiscard]] ObjectiveKind kind() const override { return kind_; }
  [[nodiscard]] double min_time() const override { return process_min_time(model_); }
  [[nodiscard]] double max_time() const override { return model_.end_time(); }

  at::Tensor loss(const Network& network, const TrainingDraw& draw) override {
    const Perturbed perturbed = model_.perturb(draw.x0, draw.times, training_noise(draw));
    const at::Tensor eps_hat =
        network(perturbed.xt.detach(), time_tensor(draw.times, draw.x0.device()));
    return (eps_hat - perturbed.eps.to(eps_hat.scalar_type())).square().mean();
  }

 private:
  ObjectiveKind kind_;
  ProcessModel& model_;
};

}  // namespace

std::unique_ptr<Objective> make_noise_prediction_objective(ObjectiveKind kind,
                                                           ProcessModel& model) {
  return std::make_unique<NoisePrediction>(kind, model);
}

}  // namespace spdec::runtime
