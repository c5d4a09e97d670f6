// The drift's pointwise linear rate: drift = c(t)·u + r(u) where r reads u
// only through stencils (grad, lap, div, sobel, shifts). In the decoupled
// reading X_t = Φ_t(x₀) + N_t the noise N_t evolves under this linear part,
// dN = c(t) N dt + g dW, as it would in the exact linear reading: a VP-type
// drift −½β(t)·u damps the noise it adds, so that the terminal law is the
// prior the process promises (docs/design.md §2).
//
// Stencil terms are left to the flow: their centre coefficient is diffusion,
// not damping (heat smooths N only in the exact linear reading, where every
// mode has its own rate; a per-pixel noise has no such closed form).
#pragma once

#include <string>

#include "lang/expr.hpp"

namespace spdec::lang {

struct LinearRate {
  /// c(t), time-stage (or constant) scalar; null when the drift has no
  /// bare-u term or when one is not of the form c(t)·u.
  ExprRef rate;
  /// Why a bare-u term is not c(t)·u (e.g. `u*u`, `x*u`); empty otherwise.
  std::string refusal;
};

/// `file`, when given, is where the drift was written: a refused term is
/// quoted as the user wrote it (else in spdec's fully bracketed form).
[[nodiscard]] LinearRate linear_rate(const ExprRef& drift, const SourcePtr& file = nullptr);

}  // namespace spdec::lang
