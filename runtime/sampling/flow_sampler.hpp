// The probability-flow sampler of flow matching
// (runtime/training/objective_flow_matching.cpp): integrate dx/dt = v(x, t)
// from t = 1 (white noise) to 0 with Euler or Heun steps on a uniform grid.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>

#include "runtime/training/objective.hpp"

namespace spdec::runtime {

struct FlowSamplerOptions {
  std::int64_t steps = 100;
  double start = 1.0;  ///< the time z is at: 1 (noise) to draw, less to edit (SDEdit)
  bool heun = true;
  std::function<void(std::int64_t, std::int64_t)> progress;
};

/// Samples from z [N, C, H, W] (white) with the velocity network (no gradient).
[[nodiscard]] at::Tensor sample_flow(const Network& velocity, const at::Tensor& z,
                                     const FlowSamplerOptions& options);

}  // namespace spdec::runtime
