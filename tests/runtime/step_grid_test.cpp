// runtime/base/step_grid.hpp: which t are nodes of the Δt grid, and the
// shortened last step of the others.
#include "runtime/base/step_grid.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <stdexcept>

using spdec::runtime::grid_position;
using spdec::runtime::GridPosition;

namespace {

/// x moved by `ulps` units in the last place (negative: down).
double ulps_away(double x, int ulps) {
  for (int i = 0; i < std::abs(ulps); ++i) x = std::nextafter(x, ulps > 0 ? 1e300 : -1e300);
  return x;
}

}  // namespace

TEST_CASE("step grid: nodes land on themselves with no rest", "[runtime][step_grid]") {
  const double dt = 0.001;  // not a binary fraction: k·dt rounds
  for (int k = 0; k <= 1000; ++k) {
    const GridPosition at = grid_position(k * dt, dt);
    INFO("k = " << k);
    CHECK(at.steps == k);
    CHECK(at.rest == 0.0);
  }
  // T as the file gives it, with dt = T / N typed as a decimal.
  CHECK(grid_position(1.0, dt).steps == 1000);
  CHECK(grid_position(1.0, dt).rest == 0.0);
  // Grids the samplers form: t0 + i·(T − t0)/N.
  const double t0 = 0.01;
  for (int i = 0; i <= 99; ++i) {
    const double t = t0 + i * (1.0 - t0) / 99.0;
    const GridPosition at = grid_position(t, dt);
    CHECK(at.steps == static_cast<std::int64_t>(std::lround(t / dt)));
    CHECK(at.rest == 0.0);
  }
}

TEST_CASE("step grid: a few ulps off a node is the node", "[runtime][step_grid]") {
  const double dt = 0.01;
  for (const int k : {1, 7, 100, 12345}) {
    for (const int ulps : {-8, -3, -1, 1, 3, 8}) {
      const double t = ulps_away(k * dt, ulps);
      INFO("k = " << k << ", ulps = " << ulps);
      const GridPosition at = grid_position(t, dt);
      CHECK(at.steps == k);
      CHECK(at.rest == 0.0);
    }
  }
}

TEST_CASE("step grid: between nodes, whole steps and a rest in (0, dt)", "[runtime][step_grid]") {
  const double dt = 0.01;
  const GridPosition mid = grid_position(0.255, dt);
  CHECK(mid.steps == 25);
  CHECK(mid.rest == Approx(0.005).epsilon(1e-9));
  // Just past the tolerance: a real (if tiny) shortened step.
  const GridPosition after = grid_position(0.25 + 1e-9, dt);
  CHECK(after.steps == 25);
  CHECK(after.rest > 0.0);
  CHECK(after.rest < dt);
  const GridPosition before = grid_position(0.25 - 1e-9, dt);
  CHECK(before.steps == 24);
  CHECK(before.rest > 0.0);
  CHECK(before.rest < dt);
  // Less than one step.
  const GridPosition first = grid_position(0.004, dt);
  CHECK(first.steps == 0);
  CHECK(first.rest == Approx(0.004));
}

TEST_CASE("step grid: t = 0, t = T and a moved origin", "[runtime][step_grid]") {
  CHECK(grid_position(0.0, 0.1).steps == 0);
  CHECK(grid_position(0.0, 0.1).rest == 0.0);
  const double T = 0.7;  // 7 steps of 0.1, which no binary fraction is
  CHECK(grid_position(T, 0.1).steps == 7);
  CHECK(grid_position(T, 0.1).rest == 0.0);
  // From an earlier snapshot: steps count from `from`.
  const GridPosition on = grid_position(0.75, 0.1, 0.35);
  CHECK(on.steps == 4);
  CHECK(on.rest == 0.0);
  const GridPosition off = grid_position(0.8, 0.1, 0.35);
  CHECK(off.steps == 4);
  CHECK(off.rest == Approx(0.05));
  CHECK(grid_position(0.35, 0.1, 0.35).steps == 0);
  CHECK_THROWS_AS(grid_position(0.3, 0.1, 0.35), std::invalid_argument);
  CHECK_THROWS_AS(grid_position(0.3, 0.0), std::invalid_argument);
}
