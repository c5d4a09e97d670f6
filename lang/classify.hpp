// Classification of a checked process (paper, appendix G; DESIGN §6): drift
// linear / semilinear / quasilinear / nonlinear, noise additive /
// multiplicative, reads u0, and so which training objectives are exact.
#pragma once

#include "lang/process.hpp"

namespace spdec::lang {

/// Fills process.classification.
void classify(Process& process);

/// The drift's class alone, exposed for tests of the rules.
[[nodiscard]] DriftClass classify_drift(const ExprRef& drift);
/// drift = Σ c_i(t)·L_i(u) with L_i ∈ {identity, lap, div(grad)} and time-only c_i.
[[nodiscard]] bool is_spectral_linear(const ExprRef& drift);

}  // namespace spdec::lang
