// Classification of a checked process (the paper's appendix G made
// mechanical; docs/design.md §2): drift linear / semilinear / quasilinear /
// nonlinear, noise additive / multiplicative, reads u0, exact marginals; and
// from these the training plan (lang/training_plan.hpp).
#pragma once

#include "lang/process.hpp"

namespace spdec::lang {

/// Fills process.classification, then process.training from it.
void classify(Process& process);

/// The drift's class alone, exposed for tests of the rules.
[[nodiscard]] DriftClass classify_drift(const ExprRef& drift);
/// drift = Σ c_i(t)·L_i(u) with L_i ∈ {identity, lap, div(grad)} and time-only c_i.
[[nodiscard]] bool is_spectral_linear(const ExprRef& drift);

}  // namespace spdec::lang
