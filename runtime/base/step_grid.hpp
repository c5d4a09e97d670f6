// Where a time sits on the Δt grid of a process's discretisation: k full steps
// and a shortened last step. Every simulation that lands on an arbitrary t —
// perturbing at training times, flows for the sampler, forward strips, the
// local DSM's last step — asks this one function, so they agree on which t
// are nodes.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace spdec::runtime {

/// `steps` full steps of dt, then a shortened step `rest` in (0, dt), or none
/// (rest = 0: t is node `steps`).
struct GridPosition {
  std::int64_t steps = 0;
  double rest = 0;
};

/// How close, in steps and relative to max(1, t/dt), t must be to a node to
/// count as that node. Callers form t from grid quantities with a few
/// roundings (k·dt, t0 + i·(T − t0)/N, T itself, a difference of two such
/// times); each costs at most an ulp of the largest of them, so a t meant to
/// be node k is off by a few ulps of t, a few·2⁻⁵³·max(1, t/dt) steps.
/// 1e-12 is thousands of times that: such a t lands on node k with rest 0,
/// not on k − 1 with a "shortened" step of dt − ε (another noise stream, and
/// a different chain from the one training used). It also drops nothing that
/// matters: a rest of 1e-12·t is far below float32's resolution of t
/// (2⁻²⁴ ≈ 6e-8), the precision of the kernels that would take it.
inline constexpr double kGridTolerance = 1e-12;

/// Where t sits on the grid from..from+k·dt (from = 0: the process's own
/// grid; a forward strip steps on from its previous snapshot). The tolerance
/// scales with t rather than t − from, since t's own rounding is what the
/// difference inherits. Throws std::invalid_argument for dt ≤ 0 or t < from.
[[nodiscard]] inline GridPosition grid_position(double t, double dt, double from = 0.0) {
  if (!(dt > 0.0) || !std::isfinite(dt)) {
    throw std::invalid_argument("grid_position: dt must be positive and finite");
  }
  const double steps = (t - from) / dt;
  const double tolerance = kGridTolerance * std::max(1.0, std::abs(t) / dt);
  if (!(steps >= -tolerance)) {
    throw std::invalid_argument("grid_position: t lies before the grid's start");
  }
  const double node = std::round(steps);
  if (std::abs(steps - node) <= tolerance) return {static_cast<std::int64_t>(node), 0.0};
  const double whole = std::floor(steps);
  return {static_cast<std::int64_t>(whole), (t - from) - whole * dt};
}

}  // namespace spdec::runtime
