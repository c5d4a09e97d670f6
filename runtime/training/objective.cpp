#include "runtime/training/objective.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "runtime/base/splitmix.hpp"
#include "runtime/training/objective_kinds.hpp"

namespace spdec::runtime {

const char* name(ObjectiveKind kind) {
  switch (kind) {
    case ObjectiveKind::exact:
      return "exact";
    case ObjectiveKind::decoupled:
      return "decoupled";
    case ObjectiveKind::local_dsm:
      return "local_dsm";
    case ObjectiveKind::sliced:
      return "sliced";
    case ObjectiveKind::flow_matching:
      return "flow_matching";
  }
  return "?";
}

namespace {

std::string refusal(const std::string& requested, const ProcessModel& model,
                    const std::string& needs, const std::string& instead) {
  return "train.objective = \"" + requested + "\" needs " + needs + "; process '" +
         model.process().name + "' is " + name(model.kind()) + " (" + instead +
         ", or \"sliced\" / \"flow_matching\", which serve any process)";
}

ObjectiveChoice automatic(const ProcessModel& model) {
  switch (model.kind()) {
    case ModelKind::linear:
      return {ObjectiveKind::exact,
              "the process is linear: exact Gaussian marginals per mode, exact denoising score "
              "matching (docs/design.md §3)"};
    case ModelKind::decoupled:
      return {ObjectiveKind::decoupled,
              "semantics decoupled: X_t = flow(x0) + Gaussian, exact denoising score matching "
              "(docs/design.md §3)"};
    case ModelKind::sde:
      return {ObjectiveKind::local_dsm,
              "semantics sde: the tamed Euler-Maruyama chain has no Gaussian marginal; local DSM "
              "on its last step (docs/design.md §3; \"sliced\" is the exact alternative)"};
  }
  throw std::logic_error("choose_objective: unknown model kind");
}

}  // namespace

ObjectiveChoice choose_objective(const std::string& requested, const ProcessModel& model) {
  if (requested == "auto") return automatic(model);
  const ObjectiveChoice natural = automatic(model);
  if (requested == "exact") {
    if (model.kind() != ModelKind::linear) {
      throw std::invalid_argument(refusal(requested, model, "a linear process (exact marginals)",
                                          std::string("use \"") + name(natural.kind) + "\""));
    }
    return {ObjectiveKind::exact, "requested; " + natural.reason};
  }
  if (requested == "decoupled") {
    if (model.kind() != ModelKind::decoupled) {
      throw std::invalid_argument(refusal(requested, model, "`semantics decoupled`",
                                          std::string("use \"") + name(natural.kind) + "\""));
    }
    return {ObjectiveKind::decoupled, "requested; " + natural.reason};
  }
  if (requested == "local_dsm") {
    if (model.kind() != ModelKind::sde) {
      throw std::invalid_argument(
          refusal(requested, model, "`semantics sde`",
                  std::string("its marginals are Gaussian: use \"") + name(natural.kind) + "\""));
    }
    return {ObjectiveKind::local_dsm, "requested; " + natural.reason};
  }
  if (requested == "sliced") {
    return {ObjectiveKind::sliced, "requested: sliced score matching on draws of X_t"};
  }
  if (requested == "flow_matching") {
    return {ObjectiveKind::flow_matching,
            "requested: flow matching on the OT path (the process only fixes the image shape)"};
  }
  throw std::invalid_argument("train.objective: unknown value \"" + requested +
                              "\" (auto | exact | decoupled | local_dsm | sliced | flow_matching)");
}

const char* name(Parameterisation parameterisation) {
  switch (parameterisation) {
    case Parameterisation::noise:
      return "noise";
    case Parameterisation::denoiser:
      return "denoiser";
  }
  return "?";
}

Parameterisation choose_parameterisation(const std::string& requested, ObjectiveKind objective,
                                         const ProcessModel& model) {
  const bool gaussian = objective == ObjectiveKind::exact || objective == ObjectiveKind::decoupled;
  const bool scaled =
      !(model.kind() == ModelKind::decoupled && model.process().classification.reads_u0);
  if (requested == "noise") return Parameterisation::noise;
  if (requested == "auto") {
    return gaussian && scaled ? Parameterisation::denoiser : Parameterisation::noise;
  }
  if (requested == "denoiser") {
    if (!gaussian) {
      throw std::invalid_argument(
          std::string("model.parameterisation = \"denoiser\" needs train.objective exact or "
                      "decoupled (a Gaussian X_t given x0); objective ") +
          name(objective) + " regresses a score or a velocity: use \"noise\" or \"auto\"");
    }
    if (!scaled) {
      throw std::invalid_argument("model.parameterisation = \"denoiser\": process '" +
                                  model.process().name +
                                  "' has noise that reads u0, so its X_t given x0 has no "
                                  "per-mode scale without x0; use \"noise\" or \"auto\"");
    }
    return Parameterisation::denoiser;
  }
  throw std::invalid_argument("model.parameterisation: unknown value \"" + requested +
                              "\" (auto | denoiser | noise)");
}

std::unique_ptr<Objective> make_objective(ObjectiveKind kind, ProcessModel& model,
                                          const ObjectiveOptions& options) {
  switch (kind) {
    case ObjectiveKind::exact:
    case ObjectiveKind::decoupled:
      if (options.parameterisation == Parameterisation::denoiser) {
        return make_denoising_objective(kind, model, options.preconditioner);
      }
      return make_noise_prediction_objective(kind, model);
    case ObjectiveKind::local_dsm:
      return make_local_dsm_objective(model);
    case ObjectiveKind::sliced:
      return make_sliced_objective(model, options);
    case ObjectiveKind::flow_matching:
      return make_flow_matching_objective();
  }
  throw std::logic_error("make_objective: unknown kind");
}

std::vector<double> training_times(std::int64_t n, double lo, double hi, config::TimeSampling kind,
                                   std::uint64_t seed, std::uint64_t step) {
  if (!(lo <= hi)) throw std::invalid_argument("training_times: empty interval");
  const bool log_uniform = kind == config::TimeSampling::log_uniform;
  if (log_uniform && !(lo > 0.0)) {
    throw std::invalid_argument("train.time_sampling = \"log_uniform\" needs t0 > 0");
  }
  std::uint64_t state = mix(seed, step, 0x7173ULL);
  std::vector<double> times(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
  for (double& t : times) {
    const double u = uniform01(state);
    t = log_uniform ? std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo)))
                    : lo + u * (hi - lo);
    t = std::clamp(t, lo, hi);
  }
  return times;
}

at::Tensor training_sample_ids(std::int64_t n, std::uint64_t step, const at::Device& device) {
  // Row i of step k is stream k·2^20 + i: distinct for batches below 2^20.
  const auto base = static_cast<std::int64_t>(step << 20U);
  return at::arange(base, base + n, at::TensorOptions().dtype(at::kLong)).to(device);
}

NoiseSource training_noise(const TrainingDraw& draw) {
  NoiseSource noise;
  noise.seed = draw.seed;
  noise.sample_ids = training_sample_ids(draw.x0.size(0), draw.step, draw.x0.device());
  return noise;
}

at::Tensor time_tensor(const std::vector<double>& times, const at::Device& device) {
  return at::tensor(times, at::TensorOptions().dtype(at::kDouble)).to(device, at::kFloat);
}

double process_min_time(const ProcessModel& model) {
  const double t0 = model.start_time();
  return t0 > 0.0 ? t0 : model.process().time.dt;
}

}  // namespace spdec::runtime
