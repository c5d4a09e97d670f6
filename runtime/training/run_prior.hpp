// The prior at T that sampling starts from (docs/design.md §5, `train.prior`),
// chosen and fitted when training starts and stored in the checkpoint.
//
//   gaussian_fit  mean image and per-mode variance of X_T, simulated from
//                 `train.prior_fit_images` training images (the process's
//                 own perturb: exact for linear and decoupled, the chain for
//                 sde). The paper's processes keep the image mean, so this
//                 is the usual case — and the default (`auto`).
//   closed_form   linear processes: N(m_T ⊙ Φᵀ data mean, v_T), exact when
//                 the data's spread is forgotten at T (VE, VP).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>

#include "runtime/config/choices.hpp"
#include "runtime/process/process_model.hpp"
#include "runtime/spectral/prior.hpp"
#include "runtime/training/objective.hpp"

namespace spdec::runtime {

/// The prior for `objective` (nullopt for flow matching, whose prior is
/// white noise) from data images x0 [N, C, H, W]; `kind` is train.prior.
/// Throws std::invalid_argument for a kind the model cannot serve. Where
/// sampling draws X_T from the data instead: runtime/sampling/data_prior.hpp.
[[nodiscard]] std::optional<GaussianPrior> fit_run_prior(ProcessModel& model,
                                                         ObjectiveKind objective,
                                                         const at::Tensor& x0,
                                                         config::PriorChoice kind,
                                                         std::uint64_t seed);

}  // namespace spdec::runtime
