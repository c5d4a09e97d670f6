#include "runtime/sampling/sigma_clock.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace spdec::runtime {
namespace {

/// |ln σ̄(t) − ln σ| at which time_of_sigma stops: a few units of rounding
/// of σ̄, which is itself a mean of integrated variances.
constexpr double kRelativeSigmaTolerance = 1e-14;

}  // namespace

double reference_sigma(const LinearProcess& process, double t) {
  return std::sqrt(process.variance(t).mean().item<double>());
}

double time_of_sigma(const LinearProcess& process, double sigma, double lo, double hi) {
  // The root of f(t) = ln σ̄(t) − ln σ, which is smooth and close to linear
  // for a VE schedule, by the Illinois method: regula falsi that halves the
  // kept end's value when the same end is kept twice, so that both ends
  // move. Every iterate stays inside the bracket (a bisection step where
  // the secant leaves it), and it converges superlinearly: 16 evaluations
  // of σ̄ (the two ends included) for EDM's log-normal training times on
  // edm.spde, where bisection to the last bit took about 62. Each
  // evaluation integrates every mode's variance, and a batch's training
  // times had cost more than the network's step.
  const double target = std::log(sigma);
  const auto f = [&process, target](double t) {
    return std::log(reference_sigma(process, t)) - target;
  };
  double f_lo = f(lo);
  if (!(f_lo < 0)) return lo;
  double f_hi = f(hi);
  if (!(f_hi > 0)) return hi;
  double best = std::abs(f_lo) < f_hi ? lo : hi;
  double f_best = std::min(std::abs(f_lo), f_hi);
  int kept = 0;  // which end the last step kept: −1 lo moved, +1 hi moved
  for (int i = 0; i < 200 && f_best > kRelativeSigmaTolerance; ++i) {
    double t = (lo * f_hi - hi * f_lo) / (f_hi - f_lo);
    if (!(t > lo && t < hi)) t = 0.5 * (lo + hi);
    if (!(t > lo && t < hi)) break;  // lo and hi are adjacent doubles
    const double value = f(t);
    if (std::abs(value) < f_best) {
      best = t;
      f_best = std::abs(value);
    }
    if (value < 0) {
      lo = t;
      f_lo = value;
      if (kept == -1) f_hi *= 0.5;
      kept = -1;
    } else {
      hi = t;
      f_hi = value;
      if (kept == 1) f_lo *= 0.5;
      kept = 1;
    }
  }
  return best;
}

std::vector<double> sigma_grid_times(const LinearProcess& process, double start, double t0,
                                     std::int64_t steps, double rho) {
  if (steps < 1) throw std::invalid_argument("sigma grid: needs at least one step");
  if (!(rho > 0)) throw std::invalid_argument("sigma grid: sample.rho must be positive");
  const double a = std::pow(reference_sigma(process, start), 1.0 / rho);
  const double b = std::pow(reference_sigma(process, t0), 1.0 / rho);
  std::vector<double> t(static_cast<std::size_t>(steps) + 1);
  for (std::int64_t i = 1; i < steps; ++i) {
    const double f = static_cast<double>(i) / static_cast<double>(steps);
    t[static_cast<std::size_t>(i)] =
        time_of_sigma(process, std::pow(a + f * (b - a), rho), t0, start);
  }
  t.front() = start;
  t.back() = t0;
  return t;
}

void require_variance_exploding(const LinearProcess& process, const std::vector<double>& times,
                                const char* key) {
  const std::string name = process.process().name;
  double previous = 0;
  for (auto it = times.rbegin(); it != times.rend(); ++it) {
    const double drift = process.log_mean_factor(*it).abs().max().item<double>();
    if (drift > 1e-12) {
      throw std::invalid_argument(fmt::format(
          "{} = \"heun\" needs a variance-exploding process (zero drift: every mode keeps its "
          "mean), but process `{}` scales its modes (|log m| = {:.3g} at t = {:g}); use "
          "\"exponential\" or \"posterior\", which integrate the drift exactly",
          key, name, drift, *it));
    }
    const double sigma = reference_sigma(process, *it);
    if (sigma < previous) {
      throw std::invalid_argument(fmt::format(
          "{} = \"heun\" needs a noise level that grows with t, but process `{}`'s falls at "
          "t = {:g}; use \"posterior\"",
          key, name, *it));
    }
    previous = sigma;
  }
}

}  // namespace spdec::runtime
