#include "runtime/sampling/flow_sampler.hpp"

#include <ATen/core/grad_mode.h>

#include <stdexcept>

namespace spdec::runtime {

at::Tensor sample_flow(const Network& velocity, const at::Tensor& z,
                       const FlowSamplerOptions& options) {
  if (options.steps < 1) throw std::invalid_argument("flow sampler: steps must be >= 1");
  if (!(options.start > 0.0 && options.start <= 1.0)) {
    throw std::invalid_argument("flow sampler: the start time must be in (0, 1]");
  }
  const at::NoGradGuard no_grad;
  at::Tensor x = z;
  const auto n = options.steps;
  const auto at_time = [&](double t) { return at::full({x.size(0)}, t, x.options()); };
  for (std::int64_t i = 0; i < n; ++i) {
    const double t = options.start * (1.0 - static_cast<double>(i) / static_cast<double>(n));
    const double s = options.start * (1.0 - static_cast<double>(i + 1) / static_cast<double>(n));
    const at::Tensor v = velocity(x, at_time(t));
    const at::Tensor euler = x + (s - t) * v;
    // Heun's correction on every step but the last (t = 0 is the data end).
    x = options.heun && i + 1 < n ? x + 0.5 * (s - t) * (v + velocity(euler, at_time(s))) : euler;
    if (options.progress) options.progress(i + 1, n);
  }
  return x;
}

}  // namespace spdec::runtime
