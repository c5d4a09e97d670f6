#include "runtime/training/objective.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>

#include "runtime/base/splitmix.hpp"
#include "runtime/training/objective_kinds.hpp"

namespace spdec::runtime {

namespace {

/// Why `auto` picked `kind`, in words (the plan's first reason).
std::string automatic_reason(const lang::TrainingPlan& plan) {
  return plan.reasons.empty() ? std::string("the process's training plan")
                              : plan.reasons.front() + " (docs/design.md §3)";
}

}  // namespace

ObjectiveChoice choose_objective(std::optional<ObjectiveKind> requested,
                                 const ProcessModel& model) {
  const lang::TrainingPlan& plan = model.process().training;
  if (!requested) {
    const std::optional<ObjectiveKind> automatic = plan.automatic_objective();
    if (!automatic) throw std::invalid_argument(plan.why_not(ObjectiveKind::flow_matching));
    return {*automatic, automatic_reason(plan)};
  }
  if (!plan.accepts(*requested)) throw std::invalid_argument(plan.why_not(*requested));
  switch (*requested) {
    case ObjectiveKind::sliced:
      return {*requested, "requested: sliced score matching on draws of X_t"};
    case ObjectiveKind::flow_matching:
      return {*requested,
              "requested: flow matching on the OT path (the process only fixes the image shape)"};
    default:
      return {*requested, "requested; " + automatic_reason(plan)};
  }
}

Parameterisation choose_parameterisation(std::optional<Parameterisation> requested,
                                         ObjectiveKind objective, const ProcessModel& model) {
  const lang::TrainingPlan& plan = model.process().training;
  if (!requested) return plan.automatic_parameterisation(objective);
  const std::string refusal = plan.why_not(*requested, objective);
  if (!refusal.empty()) throw std::invalid_argument(refusal);
  return *requested;
}

std::unique_ptr<Objective> make_objective(ObjectiveKind kind, ProcessModel& model,
                                          const ObjectiveOptions& options) {
  switch (kind) {
    case ObjectiveKind::exact:
    case ObjectiveKind::decoupled:
      if (options.parameterisation == Parameterisation::denoiser) {
        return make_denoising_objective(kind, model, options);
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
  if (kind == config::TimeSampling::log_normal) {
    throw std::invalid_argument(
        "train.time_sampling = \"log_normal\" draws noise levels: use log_normal_times");
  }
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

constexpr double kTwoPi = 6.283185307179586;

std::vector<double> log_normal_times(std::int64_t n, double lo, double hi, double p_mean,
                                     double p_std,
                                     const std::function<double(double)>& time_of_sigma,
                                     std::uint64_t seed, std::uint64_t step) {
  if (!(lo <= hi)) throw std::invalid_argument("log_normal_times: empty interval");
  if (!(p_std >= 0)) throw std::invalid_argument("train.p_std must be 0 or more");
  std::uint64_t state = mix(seed, step, 0x7173ULL);
  std::vector<double> times(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
  for (double& t : times) {
    // Box–Muller; 1 − u keeps the logarithm's argument in (0, 1].
    const double u = 1.0 - uniform01(state);
    const double v = uniform01(state);
    const double z = std::sqrt(-2.0 * std::log(u)) * std::cos(kTwoPi * v);
    t = std::clamp(time_of_sigma(std::exp(p_mean + p_std * z)), lo, hi);
  }
  return times;
}

at::Tensor training_sample_ids(std::int64_t n, std::uint64_t step, const at::Device& device,
                               std::int64_t first) {
  // Row i of step k is stream k·2^20 + i: distinct for batches below 2^20.
  const auto base = static_cast<std::int64_t>(step << 20U) + first;
  return at::arange(base, base + n, at::TensorOptions().dtype(at::kLong)).to(device);
}

at::Tensor rows_of_draw(const at::Tensor& whole, const TrainingDraw& draw) {
  if (draw.row_offset == 0 && draw.x0.size(0) == whole.size(0)) return whole;
  return whole.narrow(0, draw.row_offset, draw.x0.size(0));
}

NoiseSource training_noise(const TrainingDraw& draw) {
  NoiseSource noise;
  noise.seed = draw.seed;
  noise.sample_ids =
      training_sample_ids(draw.x0.size(0), draw.step, draw.x0.device(), draw.row_offset);
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
