#include "runtime/sampling/sigma_clock.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace spdec::runtime {

double reference_sigma(const LinearProcess& process, double t) {
  return std::sqrt(process.variance(t).mean().item<double>());
}

double time_of_sigma(const LinearProcess& process, double sigma, double lo, double hi) {
  if (!(sigma > reference_sigma(process, lo))) return lo;
  if (!(sigma < reference_sigma(process, hi))) return hi;
  // Bisection until the interval stops shrinking: t to the last bit, so a
  // grid mapped to t and back reproduces EDM's σ's to rounding.
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (!(mid > lo && mid < hi)) break;
    (reference_sigma(process, mid) < sigma ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
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
