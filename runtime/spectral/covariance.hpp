// The covariance of X_t given x₀ that a process model
// (runtime/process/process_model.hpp) hands to training objectives and samplers, as an
// operator on images — never a D×D matrix:
//
//   Σ = D Φ diag(v) Φᵀ D,   L = D Φ diag(√v)   (Σ = L Lᵀ)
//
// Φ the orthonormal basis of the boundary (runtime/spectral/spectral_basis.hpp), v a
// variance per mode and D a per-pixel scale (undefined: 1). One form serves
// every semantics (docs/design.md §2):
//
//   linear (exact)          D = 1,   v = v_k(t)              (runtime/spectral/linear_process.hpp)
//   decoupled, additive     D = √(∫₀ᵗ g²) per pixel, v = q_k  (Q's eigenvalues)
//   sde, one step of h      D = √h g(u) per pixel,   v = q_k
//
// X_t = m + L ε with ε white; the score of N(m, Σ) is −Σ⁻¹(x − m) = −L⁻ᵀ ε.
// Zero variances (a mode with v = 0, a pixel with D = 0) follow the
// Moore–Penrose rule: their inverse powers are 0, so Σ Σ⁻¹ is the projection
// onto the directions that carry noise.
//
// A v that is the same for every mode (white Q) skips the transforms: then
// Φ diag(v) Φᵀ = v I.
#pragma once

#include <ATen/ATen.h>

#include "runtime/spectral/spectral_basis.hpp"

namespace spdec::runtime {

class Covariance {
 public:
  /// mode_variance: ≥ 0, broadcastable against the spectral shape of the
  /// images it is applied to ([H, W], [N, 1, H, W], or [N, 1, 1, 1] / a
  /// 0-dim tensor for a multiple of the identity). pixel_scale: ≥ 0,
  /// broadcastable against [N, C, H, W], or undefined for D = 1.
  Covariance(SpectralBasis basis, at::Tensor mode_variance, at::Tensor pixel_scale = {});

  [[nodiscard]] const SpectralBasis& basis() const { return basis_; }
  [[nodiscard]] const at::Tensor& mode_variance() const { return variance_; }
  [[nodiscard]] const at::Tensor& pixel_scale() const { return scale_; }

  /// Σ x.
  [[nodiscard]] at::Tensor apply(const at::Tensor& x) const;
  /// L x: a draw of N(0, Σ) from white x.
  [[nodiscard]] at::Tensor apply_sqrt(const at::Tensor& x) const;
  /// Lᵀ x (Lᵀ = Φ diag(√v) Φᵀ D: Φ diag(√v) Φᵀ is symmetric).
  [[nodiscard]] at::Tensor apply_sqrt_transpose(const at::Tensor& x) const;
  /// tr Σ / D-size, approximated as mean(v) · mean(D²) (exact when v or D is
  /// constant): the scale of the variance, for loss weights.
  [[nodiscard]] double average_variance() const;
  /// Σ⁺ x.
  [[nodiscard]] at::Tensor apply_inverse(const at::Tensor& x) const;
  /// L⁺ x: the white ε of x = L ε.
  [[nodiscard]] at::Tensor apply_inverse_sqrt(const at::Tensor& x) const;
  /// L⁺ᵀ x: the score of N(m, Σ) is −L⁺ᵀ ε.
  [[nodiscard]] at::Tensor apply_inverse_sqrt_transpose(const at::Tensor& x) const;

 private:
  /// Φ diag(v^p) Φᵀ x (p = exponent) with the identity shortcut.
  [[nodiscard]] at::Tensor modes(const at::Tensor& x, double exponent) const;
  [[nodiscard]] at::Tensor scale(const at::Tensor& x, bool inverse) const;

  SpectralBasis basis_;
  at::Tensor variance_;
  at::Tensor scale_;
  bool identity_modes_ = false;
};

}  // namespace spdec::runtime
