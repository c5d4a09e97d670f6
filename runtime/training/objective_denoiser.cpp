// Exact denoising score matching in the denoiser parameterisation
// (runtime/process/preconditioner.hpp), for the processes whose X_t | x₀ is
// Gaussian and known: linear and decoupled. The network F sees V[c_in ⊙ Vᵀ(x_t − Mμ)] and
// regresses the unit-variance target F*; the loss Σ_k (D_k − x₀,k)²/c_out,k²
// is denoising score matching with EDM's per-mode weight, since the score
// −Σ_t⁻¹(x_t − M_t D) is affine in D. For decoupled processes the target is
// still x₀ (the sampler pushes x̂₀ through the flow): exact DSM for
// E[x₀ | x_t], from which E[Φ_t(x₀) | x_t] differs by the flow's Jensen gap.
#include <stdexcept>
#include <utility>

#include "runtime/process/preconditioner.hpp"
#include "runtime/training/objective_kinds.hpp"

namespace spdec::runtime {
namespace {

class Denoising final : public Objective {
 public:
  Denoising(ObjectiveKind kind, ProcessModel& model, const Preconditioner& preconditioner)
      : kind_(kind), model_(model), preconditioner_(preconditioner) {}

  [[nodiscard]] ObjectiveKind kind() const override { return kind_; }
  [[nodiscard]] double min_time() const override { return process_min_time(model_); }
  [[nodiscard]] double max_time() const override { return model_.end_time(); }

  at::Tensor loss(const Network& network, const TrainingDraw& draw) override {
    const Perturbed perturbed = model_.perturb(draw.x0, draw.times, training_noise(draw));
    const ModeScales scales = model_.mode_scales(draw.times);
    const at::Tensor xt = perturbed.xt.detach();
    const Preconditioner::State state = preconditioner_.at(xt, scales);
    const at::Tensor target = state.target(draw.x0);
    const at::Tensor output = network(state.input(), time_tensor(draw.times, draw.x0.device()));
    return (output - target.to(output.scalar_type())).square().mean();
  }

 private:
  ObjectiveKind kind_;
  ProcessModel& model_;
  const Preconditioner& preconditioner_;
};

}  // namespace

std::unique_ptr<Objective> make_denoising_objective(ObjectiveKind kind, ProcessModel& model,
                                                    const Preconditioner* preconditioner) {
  if (preconditioner == nullptr) {
    throw std::invalid_argument("the denoiser parameterisation needs the data's spectrum");
  }
  return std::make_unique<Denoising>(kind, model, *preconditioner);
}

}  // namespace spdec::runtime
