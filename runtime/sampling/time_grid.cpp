#include "runtime/sampling/time_grid.hpp"

#include <cmath>
#include <stdexcept>

namespace spdec::runtime {

std::vector<double> time_grid(double T, double t0, std::int64_t steps, const TimeGrid& grid) {
  if (!(t0 >= 0.0 && t0 < T)) throw std::invalid_argument("time grid: needs 0 <= t0 < T");
  if (steps < 1) throw std::invalid_argument("time grid: needs at least one step");
  if (grid.kind == GridKind::power && !(grid.rho > 0)) {
    throw std::invalid_argument("time grid: rho must be positive");
  }
  std::vector<double> t(static_cast<std::size_t>(steps) + 1);
  const double n = static_cast<double>(steps);
  for (std::int64_t i = 0; i <= steps; ++i) {
    const double f = static_cast<double>(i) / n;
    if (grid.kind == GridKind::uniform) {
      t[static_cast<std::size_t>(i)] = T + f * (t0 - T);
    } else {
      const double a = std::pow(T, 1.0 / grid.rho);
      const double b = std::pow(t0, 1.0 / grid.rho);
      t[static_cast<std::size_t>(i)] = std::pow(a + f * (b - a), grid.rho);
    }
  }
  t.front() = T;
  t.back() = t0;
  return t;
}

}  // namespace spdec::runtime
