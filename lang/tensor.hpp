// Symmetric 2×2 matrices in checked expressions (LANGUAGE.md §7.4, §13.6):
// their eigen-decomposition, the matrix of given eigenvectors and
// eigenvalues, Gaussian smoothing and the structure tensor built from it,
// and the recognition of the tensor flux div(D * grad(e)) that lowering
// discretises and W102 bounds.
//
// Everything here is built from the ordinary operations of lang/expr.hpp (a
// matrix is a make_matrix node, so its entries are at hand), so the host
// evaluator, the classifier, ddt and codegen need nothing new for it — only
// gauss and the matrix-vector product are operations of their own.
#pragma once

#include <optional>
#include <vector>

#include "lang/expr.hpp"

namespace spdec::lang {

/// Largest truncation radius ⌈3σ⌉ of `gauss` (the width of `shift`): wider
/// smoothing is almost certainly a mistake on images of tens of pixels, and
/// every pixel's kernel pays for the radius squared.
inline constexpr int kMaxGaussRadius = 8;

/// ⌈3σ⌉, the truncation radius of gauss(e, σ); 0 for σ = 0 (no smoothing).
[[nodiscard]] int gauss_radius(double sigma);
/// The 2r + 1 weights exp(−k²/(2σ²)) for k = −r … r, r = gauss_radius(σ),
/// divided by their sum (so a constant is kept exactly); {1} for σ = 0.
[[nodiscard]] std::vector<double> gauss_weights(double sigma);
/// Whether σ is a valid scale: finite, ≥ 0, radius at most kMaxGaussRadius.
[[nodiscard]] bool valid_gauss_scale(double sigma);

/// The larger (or smaller) eigenvalue (a + c ± √((a − c)² + 4b²)) / 2 of
/// [[a, b], [b, c]].
[[nodiscard]] ExprRef eigenvalue(const ExprRef& m, bool largest, Span span);

/// The unit eigenvector of the larger eigenvalue (leading), or the one
/// perpendicular to it; (1, 0) and (0, 1) for a multiple of the identity.
[[nodiscard]] ExprRef eigenvector(const ExprRef& m, bool leading, Span span);

/// along·v̂v̂ᵀ + across·(I − v̂v̂ᵀ), v̂ = v/|v|: the matrix with eigenvalue
/// `along` in the direction of v and `across` perpendicular to it; v = 0
/// counts as the direction (1, 0).
[[nodiscard]] ExprRef matrix_from_eigen(const ExprRef& v, const ExprRef& along,
                                        const ExprRef& across, Span span);

/// J_ρ(∇e_σ) = K_ρ * (∇e_σ ∇e_σᵀ) with e_σ = gauss(e, σ) and ∇ the node
/// gradient of §13.2, per channel (also under `channels coupled`).
[[nodiscard]] ExprRef structure_tensor(const ExprRef& e, double sigma, double rho, Span span);

/// div(D * grad(e)), possibly scaled: D * grad(e), k * (D * grad(e)),
/// (D * grad(e)) * k, (D * grad(e)) / c; `matrix` has the scale folded in.
struct TensorFlux {
  ExprRef matrix;
  ExprRef operand;
};
[[nodiscard]] std::optional<TensorFlux> match_tensor_flux(const ExprRef& v);

/// The diffusivity W102 charges a tensor flux with D = [[a, b], [b, c]]
/// (LANGUAGE.md §13.6): (|a + c − |b|| + |a − |b|| + |c − |b|| + |b|) / 4,
/// one eighth of the Gershgorin sum |w₀| + Σ|wₖ| of the stencil of constant
/// D, so that 4·dt·k ≤ 1 bounds the explicit step as for a scalar k (and is
/// dt · Σ wₖ ≤ 1, the maximum principle, where every wₖ ≥ 0).
[[nodiscard]] ExprRef tensor_diffusivity(const ExprRef& matrix, Span span);

}  // namespace spdec::lang
