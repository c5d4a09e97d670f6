// Exact denoising score matching in the denoiser parameterisation
// (runtime/process/preconditioner.hpp), for the processes whose X_t | x₀ is
// Gaussian and known: linear and decoupled. The network F sees V[c_in ⊙ Vᵀ(x_t − Mμ)] and
// regresses the unit-variance target F*; the loss Σ_k (D_k − x₀,k)²/c_out,k²
// is denoising score matching with EDM's per-mode weight, since the score
// −Σ_t⁻¹(x_t − M_t D) is affine in D. For decoupled processes the target is
// still x₀ (the sampler pushes x̂₀ through the flow): exact DSM for
// E[x₀ | x_t], from which E[Φ_t(x₀) | x_t] differs by the flow's Jensen gap.
//
// Two weightings over modes (train.weighting):
//   mode   ‖F − F*‖² = Σ_k (D_k − x₀,k)² / c_out,k²: every mode's F target has
//          unit variance and counts the same. Where the noise is large
//          against the data (c_out,k ≈ σ_d,k) a mode weighs 1/σ_d,k²: image
//          spectra fall steeply, so the finest modes outweigh the image
//          mean and coarse shape by up to 10⁴ — and a small network, spending
//          its capacity on unpredictable fine detail, leaves the coarse modes
//          wrong (grey backgrounds, low contrast).
//   pixel  Σ_k (D_k − x₀,k)² / mean_k c_out,k²: the error of D in pixels, as
//          EDM weighs it (λ = 1/c_out² with its scalar c_out), normalised per
//          sample so that every time contributes O(1). It is `mode` with
//          per-mode factors c_out,k² / mean c_out²; F's parameterisation and
//          the preconditioning of its input are unchanged.
#include <stdexcept>
#include <utility>

#include "runtime/process/preconditioner.hpp"
#include "runtime/training/objective_kinds.hpp"

namespace spdec::runtime {
namespace {

class Denoising final : public Objective {
 public:
  Denoising(ObjectiveKind kind, ProcessModel& model, const Preconditioner& preconditioner,
            bool pixel_weighting)
      : kind_(kind),
        model_(model),
        preconditioner_(preconditioner),
        pixel_weighting_(pixel_weighting) {}

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
    const at::Tensor error = output - target.to(output.scalar_type());
    if (!pixel_weighting_) return error.square().mean();
    const at::Tensor modes = preconditioner_.basis().transform(error.to(at::kFloat));
    const at::Tensor power = modes.is_complex() ? at::real(modes * modes.conj()) : modes.square();
    return (power * state.pixel_weights().to(power.device(), at::kFloat)).mean();
  }

 private:
  ObjectiveKind kind_;
  ProcessModel& model_;
  const Preconditioner& preconditioner_;
  bool pixel_weighting_;
};

}  // namespace

std::unique_ptr<Objective> make_denoising_objective(ObjectiveKind kind, ProcessModel& model,
                                                    const ObjectiveOptions& options) {
  if (options.preconditioner == nullptr) {
    throw std::invalid_argument("the denoiser parameterisation needs the data's spectrum");
  }
  return std::make_unique<Denoising>(kind, model, *options.preconditioner,
                                     options.weighting != config::LossWeighting::mode);
}

}  // namespace spdec::runtime
