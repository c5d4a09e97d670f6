// The denoiser (data-prediction) parameterisation with EDM's preconditioning
// generalised per mode (docs/design.md, "Parameterisation").
//
// In the orthonormal basis V of the process (runtime/spectral/spectral_basis.hpp) the
// perturbed state is, mode by mode, x_t,k = m_k x₀,k + s_k ε_k
// (runtime/process/process_model.hpp: ModeScales). With the data's per-mode mean μ
// and variance σ_d,k² (fitted once from training images) Karras et al.'s
// derivation (Elucidating the Design Space of Diffusion-Based Generative
// Models, 2022, arXiv:2206.00364, appendix B.6) redone per mode gives,
// with y = Vᵀ(x_t − M μ):
//
//   c_in   = 1 / √(m²σ_d² + s²)
//   c_skip = m σ_d² / (m²σ_d² + s²)
//   c_out  = σ_d s / √(m²σ_d² + s²)
//   D(x_t) = μ + V[c_skip ⊙ y + c_out ⊙ Vᵀ F(V[c_in ⊙ y], t)]
//
// F's input and its regression target F* = V[(Vᵀ(x₀ − μ) − c_skip ⊙ y) / c_out]
// have unit variance per mode, and the loss ‖F − F*‖² = Σ_k (D_k − x₀,k)² /
// c_out,k² is EDM's weighting per mode. No coefficient divides by m: where
// the forward process has erased a mode (m → 0, which underflows to 0 in
// float32 for the heat equation's fast modes at T) the coefficients tend to
// (c_in, c_skip, c_out) = (1/s, 0, σ_d), so the network predicts the data's
// own spread there. For Gaussian data the optimal F is 0 and c_skip ⊙ y is
// the Wiener filter: the network learns only what is not Gaussian.
//
// Coefficients are computed in double from m and s² (tables of the process
// model, in double) and applied to images in their own dtype.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <utility>

#include "runtime/process/process_model.hpp"
#include "runtime/spectral/prior.hpp"
#include "runtime/spectral/spectral_basis.hpp"

namespace spdec::runtime {

class Preconditioner {
 public:
  /// `data`: the training data's mean image and per-mode variance in the
  /// process's basis (gaussian_fit of training images). Variances below
  /// kVarianceFloor × their mean are raised to it so that c_out > 0.
  explicit Preconditioner(GaussianPrior data);

  [[nodiscard]] const GaussianPrior& data() const { return data_; }
  [[nodiscard]] const SpectralBasis& basis() const { return data_.basis(); }

  struct Coefficients {
    at::Tensor in;
    at::Tensor skip;
    at::Tensor out;
  };

  /// The coefficients and y = Vᵀ(x_t − M μ) of one state, computed once for
  /// the input, the denoised estimate and the target that use them (a
  /// training step needs input and target, a network evaluation input and
  /// denoised).
  class State {
   public:
    /// The network's input V[c_in ⊙ y].
    [[nodiscard]] at::Tensor input() const;
    /// D = μ + V[c_skip ⊙ y + c_out ⊙ Vᵀ F].
    [[nodiscard]] at::Tensor denoised(const at::Tensor& network_output) const;
    /// F* = V[(Vᵀ(x₀ − μ) − c_skip ⊙ y) / c_out] for the clean images x₀.
    [[nodiscard]] at::Tensor target(const at::Tensor& x0) const;
    /// c_out,k² / mean_k c_out,k² per sample ([N, C, H, W] spectral layout,
    /// double): weighing ‖Vᵀ(F − F*)‖² by it gives ‖D − x₀‖² in pixels
    /// divided by the mean c_out² — EDM's λ(σ) with every mode counted as
    /// a pixel counts.
    [[nodiscard]] at::Tensor pixel_weights() const;

   private:
    friend class Preconditioner;
    State(const Preconditioner& owner, Coefficients c, at::Tensor y, at::ScalarType dtype)
        : owner_(owner), c_(std::move(c)), y_(std::move(y)), dtype_(dtype) {}
    /// μ as [1, C, H, W] in the state's dtype and device.
    [[nodiscard]] at::Tensor mean() const;

    const Preconditioner& owner_;
    Coefficients c_;
    at::Tensor y_;
    at::ScalarType dtype_;
  };

  /// The state x_t at per-mode scales `scales` (must outlive nothing: the
  /// State holds its own tensors and a reference to this preconditioner).
  [[nodiscard]] State at(const at::Tensor& xt, const ModeScales& scales) const;

  /// Shorthands of at(xt, scales).input() / .denoised(F) / .target(x0).
  [[nodiscard]] at::Tensor input(const at::Tensor& xt, const ModeScales& scales) const;
  [[nodiscard]] at::Tensor denoised(const at::Tensor& xt, const at::Tensor& network_output,
                                    const ModeScales& scales) const;
  [[nodiscard]] at::Tensor target(const at::Tensor& x0, const at::Tensor& xt,
                                  const ModeScales& scales) const;
  /// c_out² per mode ([N, C, H, W] double CPU): for Gaussian data it is
  /// E Var(x₀,k | x_t) exactly, the posterior variance a sampler adds back.
  [[nodiscard]] at::Tensor output_variance(const ModeScales& scales) const;

  static constexpr double kVarianceFloor = 1e-6;

 private:
  [[nodiscard]] Coefficients coefficients(const ModeScales& scales) const;

  GaussianPrior data_;
  at::Tensor variance_;  ///< σ_d² with the floor, [1, C, H, W] double
};

/// The spectrum with its per-mode variance replaced by its mean in every
/// mode (the mean image kept): EDM's scalar σ_d² for `model.preconditioning
/// = "scalar"`. The network's input is then not whitened per mode, and
/// c_skip, c_out differ per mode only through the process's m and s.
[[nodiscard]] GaussianPrior flatten_spectrum(const GaussianPrior& spectrum);

/// EDM's assumption about the data, for `model.preconditioning =
/// "sigma_data"`: mean 0 and variance σ_d² in every mode (`channels`
/// channels). With an isotropic process (m = 1, s = σ in every mode) the
/// coefficients are EDM's: c_in = 1/√(σ² + σ_d²), c_skip = σ_d²/(σ² + σ_d²),
/// c_out = σ σ_d/√(σ² + σ_d²), and the loss ‖F − F*‖² is λ(σ) ‖D − x₀‖² with
/// λ = 1/c_out² = (σ² + σ_d²)/(σ σ_d)² (Karras et al. 2022, table 1).
[[nodiscard]] GaussianPrior sigma_data_spectrum(const SpectralBasis& basis, std::int64_t channels,
                                                double sigma_data);

}  // namespace spdec::runtime
