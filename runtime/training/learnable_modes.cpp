#include "runtime/training/learnable_modes.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "lang/evaluate.hpp"

namespace spdec::runtime {
namespace {

/// Relative tolerance of the form checks: the rates are evaluated in double
/// by the same host evaluator, so a true proportionality holds to rounding.
constexpr double kTolerance = 1e-9;

std::string file_of(const lang::Process& process) {
  return process.file ? process.file->path() : process.name;
}

[[noreturn]] void refuse(const lang::Process& process, const std::string& why) {
  throw std::runtime_error(fmt::format(
      "{}: process {} declares learnable schedules, but joint training of knots needs a "
      "variance-exploding process whose every mode's variance rate is a constant times one "
      "learnable schedule (drift = 0, constant diffusion, a spectral filter; "
      "docs/learnable_schedules.md): {}",
      file_of(process), process.name, why));
}

/// The constant diffusion σ, or a refusal.
double constant_diffusion(const lang::Process& process) {
  if (!process.drift || !process.drift->is_constant(0.0)) {
    refuse(process,
           "its drift is not 0 (the estimator's heat-equation identity ∂p/∂M = ½∇²p "
           "holds only without drift)");
  }
  if (!process.diffusion || !process.diffusion->is_constant()) {
    refuse(process, "its diffusion is not a constant");
  }
  return process.diffusion->value;
}

/// Every schedule's knots, with schedule `scaled` multiplied by 2 (none: -1).
KnotValues knots_scaled(const lang::Process& process, int scaled) {
  KnotValues out;
  for (std::size_t j = 0; j < process.learnables.size(); ++j) {
    std::vector<double> values = process.learnables[j].init_values;
    if (static_cast<int>(j) == scaled) {
      for (double& v : values) v *= 2;
    }
    out.push_back(std::move(values));
  }
  return out;
}

/// Times at which the form is checked: every knot and every midpoint.
std::vector<double> check_times(const lang::Learnable& learnable) {
  std::vector<double> out;
  const std::vector<double>& times = learnable.knot_times;
  for (std::size_t k = 0; k < times.size(); ++k) {
    out.push_back(times[k]);
    if (k + 1 < times.size()) out.push_back(0.5 * (times[k] + times[k + 1]));
  }
  return out;
}

bool close(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().le(kTolerance * (a.abs() + b.abs()) + 1e-300).all().item<bool>();
}

}  // namespace

LearnableModes learnable_modes(const lang::Process& process, const NoiseOperator& noise) {
  if (process.learnables.empty()) return {};
  const double sigma = constant_diffusion(process);
  if (noise.kind() != NoiseOperator::Kind::filter) {
    refuse(process, "its noise has no spectral filter that reads the schedules");
  }
  const auto count = static_cast<int>(process.learnables.size());
  // Which schedule drives each mode: the one whose doubling doubles its rate.
  const KnotValues init = knots_scaled(process, -1);
  const double t_probe = process.learnables.front().knot_times.front();
  const at::Tensor base = noise.eigenvalues(t_probe, &init);
  if (!base.gt(0).all().item<bool>()) {
    refuse(process, "its filter is 0 on some modes, whose variance cannot be learned");
  }
  at::Tensor owner = at::full(base.sizes(), -1, at::TensorOptions().dtype(at::kLong));
  for (int j = 0; j < count; ++j) {
    const KnotValues doubled = knots_scaled(process, j);
    const at::Tensor scaled = noise.eigenvalues(t_probe, &doubled);
    const at::Tensor moved = (scaled - base).abs() > kTolerance * base;
    if (moved.logical_and(owner.ge(0)).any().item<bool>()) {
      refuse(process, "its filter makes some mode's rate depend on several learnable schedules");
    }
    if (!close(at::where(moved, scaled, 2 * base), 2 * base)) {
      refuse(process, fmt::format("its filter is not proportional to schedule {} on the modes "
                                  "that read it (e.g. sqrt({}) gives a rate {} · const)",
                                  process.learnables[j].name, process.learnables[j].name,
                                  process.learnables[j].name));
    }
    owner = at::where(moved, at::full_like(owner, j), owner);
  }
  if (owner.lt(0).any().item<bool>()) {
    refuse(process, "some modes' rates follow no learnable schedule");
  }
  // c_k from the first knot time, then checked at every knot and midpoint.
  LearnableModes modes;
  for (int j = 0; j < count; ++j) {
    const lang::Learnable& learnable = process.learnables[j];
    const double g0 =
        lang::interpolate_log_linear(learnable.knot_times, learnable.init_values, t_probe);
    modes.coefficients.push_back(
        at::where(owner.eq(j), sigma * sigma * base / g0, at::zeros_like(base)));
  }
  for (const double t : check_times(process.learnables.front())) {
    at::Tensor expected = at::zeros_like(base);
    for (int j = 0; j < count; ++j) {
      const lang::Learnable& learnable = process.learnables[j];
      expected += modes.coefficients[j] *
                  lang::interpolate_log_linear(learnable.knot_times, learnable.init_values, t);
    }
    if (!close(sigma * sigma * noise.eigenvalues(t, &init), expected)) {
      refuse(process, fmt::format("at t = {:.6g} some mode's rate is not a constant times its "
                                  "schedule (the filter reads t besides the schedules)",
                                  t));
    }
  }
  return modes;
}

namespace {

/// Σ_j c_j · f_j(t_b), [B, 1, H, W].
template <typename PerSchedule>
at::Tensor combine(const LearnableModes& modes, const at::Tensor& times, PerSchedule&& f) {
  at::Tensor out;
  for (std::size_t j = 0; j < modes.coefficients.size(); ++j) {
    const at::Tensor term = f(j, times).view({-1, 1, 1, 1}) * modes.coefficients[j];
    out = out.defined() ? out + term : term;
  }
  return out;
}

}  // namespace

at::Tensor mode_variances(const LearnableModes& modes, const LearnedSchedules& schedules,
                          const at::Tensor& times) {
  return combine(modes, times, [&schedules](std::size_t j, const at::Tensor& t) {
    return schedules.variance(j, t);
  });
}

at::Tensor mode_rates(const LearnableModes& modes, const LearnedSchedules& schedules,
                      const at::Tensor& times) {
  return combine(modes, times,
                 [&schedules](std::size_t j, const at::Tensor& t) { return schedules.rate(j, t); });
}

}  // namespace spdec::runtime
