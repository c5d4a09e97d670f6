#include "lang/training_plan.hpp"

#include <algorithm>

#include "lang/process.hpp"

namespace spdec::lang {
namespace {

std::string list(const std::vector<ObjectiveKind>& objectives) {
  std::string out;
  for (const ObjectiveKind o : objectives) {
    if (!out.empty()) out += ", ";
    out += name(o);
  }
  return out;
}

bool is_gaussian(ObjectiveKind objective) {
  return objective == ObjectiveKind::exact || objective == ObjectiveKind::decoupled;
}

void plan_linear(const Process& process, TrainingPlan& plan) {
  plan.model = ModelKind::linear;
  plan.per_mode_scales = true;
  plan.exact_objectives.push_back(ObjectiveKind::exact);
  plan.reasons.push_back(
      "linear drift diagonal in the " +
      std::string(process.boundary.kind == BoundaryKind::periodic ? "FFT" : "DCT-II") +
      " basis with noise constant in space: Gaussian marginals in closed form per mode, exact "
      "denoising score matching (`exact`)");
  if (process.semantics == Semantics::decoupled) {
    plan.exact_objectives.push_back(ObjectiveKind::decoupled);
    plan.reasons.emplace_back(
        "semantics decoupled: for a linear process the two readings coincide, so `decoupled` "
        "trains on the same closed-form marginals");
  } else {
    plan.reasons.emplace_back(
        "semantics sde: the closed form stands for the simulated chain, so local DSM (for "
        "chains without one) is not offered");
  }
  plan.exact_objectives.push_back(ObjectiveKind::sliced);
  plan.uniform_scales = !process.drift || (process.drift->reads & reads_stencil) == 0;
  if (plan.uniform_scales) {
    plan.reasons.emplace_back(
        "the drift reads u only pointwise: every mode has the same forward multiplier m(t), so "
        "ε's estimate of x0 amplifies no mode over another, and `auto` picks the `noise` "
        "parameterisation (it measured better than the denoiser for VE: docs/results.md)");
  }
}

void plan_decoupled(const Process& process, TrainingPlan& plan) {
  const Classification& c = process.classification;
  plan.model = ModelKind::decoupled;
  const bool white = process.noise.correlation_length == 0 && !process.noise.filter;
  const bool multiplicative = c.noise == NoiseClass::multiplicative;
  if (multiplicative && !white) {
    plan.refusal =
        "decoupled semantics with multiplicative correlated noise: g Q g is neither diagonal per "
        "pixel nor per mode, so X_t given x0 has no Gaussian form to draw from; use semantics "
        "sde, or white noise";
    return;
  }
  plan.exact_objectives = {ObjectiveKind::decoupled, ObjectiveKind::sliced};
  plan.reasons.emplace_back(
      "semantics decoupled: X_t = Φ_t(x0) + N(0, Σ̄_t), exact denoising score matching given x0 "
      "(`decoupled`)");
  if (multiplicative) {
    plan.reasons.emplace_back(
        "multiplicative white noise: Σ̄_t is the per-pixel variance accumulated along the flow "
        "Φ_s(x0); the sampler accumulates it along the flow of its estimate of x0");
  }
  plan.shared_variance = !multiplicative && !c.reads_u0;
  plan.per_mode_scales = plan.shared_variance;
  if (!plan.shared_variance) {
    plan.reasons.emplace_back(
        std::string("Σ̄_t depends on x0 (the ") +
        (multiplicative ? "noise reads u" : "process reads u0") +
        "): no per-mode scale without x0, so the network predicts noise, and the flow is "
        "explicit (FED needs one Σ̄_t for all x0)");
  }
}

/// Why a chain under `semantics sde` has no closed-form marginal. An untamed
/// chain with a linear drift and additive noise is Gaussian (each step is
/// affine in Gaussians): only its closed form is missing, and saying it has
/// no Gaussian marginal would be wrong.
std::string why_no_closed_form(const Process& process) {
  const Classification& c = process.classification;
  const bool tamed = process.time.taming.has_value();
  if (c.drift == DriftClass::linear && c.noise == NoiseClass::additive && !tamed) {
    std::string why;
    if (!c.drift_spectral) {
      why = "the drift is not a(t) lap(u) + c(t) u";
    } else if (c.noise_spatially_varying) {
      why = "the noise varies in space";
    } else {
      why = "with a dirichlet boundary lap(u) is not diagonal in the DCT-II basis";
    }
    return "the Euler-Maruyama chain is Gaussian (linear drift, additive noise), but has no "
           "per-mode closed form here: " +
           why;
  }
  if (c.drift != DriftClass::linear) {
    return std::string("the Euler-Maruyama chain has no Gaussian marginal: the drift is ") +
           name(c.drift);
  }
  if (c.noise == NoiseClass::multiplicative) {
    return "the Euler-Maruyama chain has no Gaussian marginal: the noise reads u";
  }
  return "the tamed Euler-Maruyama chain has no Gaussian marginal: taming makes the linear drift "
         "nonlinear";
}

void plan_sde(const Process& process, TrainingPlan& plan) {
  plan.model = ModelKind::sde;
  plan.exact_objectives = {ObjectiveKind::local_dsm, ObjectiveKind::sliced};
  plan.reasons.push_back("semantics sde: " + why_no_closed_form(process) +
                         "; local DSM is exact for the chain with h = one step (`local_dsm`)");
}

}  // namespace

std::optional<ObjectiveKind> TrainingPlan::automatic_objective() const {
  if (!trainable() || exact_objectives.empty()) return std::nullopt;
  return exact_objectives.front();
}

bool TrainingPlan::accepts(ObjectiveKind objective) const {
  if (!trainable()) return false;
  return objective == ObjectiveKind::flow_matching ||
         std::find(exact_objectives.begin(), exact_objectives.end(), objective) !=
             exact_objectives.end();
}

std::vector<ObjectiveKind> TrainingPlan::accepted_objectives() const {
  if (!trainable()) return {};
  std::vector<ObjectiveKind> out = exact_objectives;
  out.push_back(ObjectiveKind::flow_matching);
  return out;
}

std::string TrainingPlan::why_not(ObjectiveKind objective) const {
  if (!trainable()) return "process '" + process_name + "' cannot be trained: " + refusal;
  if (accepts(objective)) return {};
  std::string needs;
  switch (objective) {
    case ObjectiveKind::exact:
      needs =
          "closed-form marginals (a spectral linear drift, noise constant in space, a neumann or "
          "periodic boundary)";
      break;
    case ObjectiveKind::decoupled:
      needs = "`semantics decoupled`";
      break;
    case ObjectiveKind::local_dsm:
      needs = model == ModelKind::linear
                  ? "a chain without closed-form marginals (this one has them)"
                  : "`semantics sde`";
      break;
    case ObjectiveKind::sliced:
    case ObjectiveKind::flow_matching:
      break;
  }
  return "train.objective = \"" + std::string(name(objective)) + "\" needs " + needs +
         "; process '" + process_name + "' is read as " + name(model) +
         " (exact here: " + list(exact_objectives) + "; flow_matching serves any process)";
}

Parameterisation TrainingPlan::automatic_parameterisation(ObjectiveKind objective) const {
  return is_gaussian(objective) && per_mode_scales && !uniform_scales ? Parameterisation::denoiser
                                                                      : Parameterisation::noise;
}

std::string TrainingPlan::why_not(Parameterisation parameterisation,
                                  ObjectiveKind objective) const {
  if (parameterisation == Parameterisation::noise) return {};
  if (!is_gaussian(objective)) {
    return std::string(
               "model.parameterisation = \"denoiser\" needs train.objective exact or decoupled (a "
               "Gaussian X_t given x0); objective ") +
           name(objective) + R"( regresses a score or a velocity: use "noise" or "auto")";
  }
  if (!per_mode_scales) {
    return "model.parameterisation = \"denoiser\": process '" + process_name +
           "' has X_t given x0 whose variance depends on x0 (its noise reads u or u0), so there "
           "is no per-mode scale without x0; use \"noise\" or \"auto\"";
  }
  return {};
}

TrainingPlan plan_training(const Process& process) {
  TrainingPlan plan;
  plan.process_name = process.name;
  const Classification& c = process.classification;
  if (c.noise == NoiseClass::none) {
    plan.model = process.semantics == Semantics::decoupled ? ModelKind::decoupled : ModelKind::sde;
    plan.refusal =
        "the process adds no noise (its diffusion or noise filter is 0), so it has no score and "
        "cannot serve generation";
    return plan;
  }
  if (c.exact_marginals) {
    plan_linear(process, plan);
  } else if (process.semantics == Semantics::decoupled) {
    plan_decoupled(process, plan);
  } else {
    plan_sde(process, plan);
  }
  return plan;
}

}  // namespace spdec::lang
