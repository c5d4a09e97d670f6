#include "runtime/process/forward_simulation.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "runtime/base/step_grid.hpp"

namespace spdec::runtime {
namespace {

/// Snapshot noise draws its own Philox steps, far from the chain's (a chain
/// has far fewer than 2^40 steps), so no snapshot reuses a step's noise.
constexpr std::uint64_t kSnapshotStreamBase = std::uint64_t{1} << 40U;

void check_times(const std::vector<double>& times, const lang::Process& process) {
  if (times.empty()) throw std::invalid_argument("forward simulation: no times requested");
  for (std::size_t i = 0; i < times.size(); ++i) {
    const double t = times[i];
    if (!(t >= 0.0 && t <= process.time.T)) {
      throw std::invalid_argument("forward simulation: time " + std::to_string(t) +
                                  " is outside [0, T = " + std::to_string(process.time.T) + "]");
    }
    if (i > 0 && t < times[i - 1]) {
      throw std::invalid_argument("forward simulation: times must be ascending");
    }
  }
}

/// ζ = Q^{1/2}ξ for one Philox step (white: ξ itself).
at::Tensor correlated_noise(ProcessKernels& kernels, const NoiseOperator& noise,
                            const at::Tensor& like, NoiseSource source, double t) {
  const at::Tensor xi = kernels.noise(like.sizes(), source, like.device());
  return noise.is_identity() ? xi : noise.apply_sqrt(xi, t).to(at::kFloat).contiguous();
}

class Simulation {
 public:
  Simulation(ProcessKernels& kernels, const lang::Process& process, const NoiseOperator& noise,
             const at::Tensor& x0, const ForwardOptions& options)
      : kernels_(kernels),
        process_(process),
        noise_(noise),
        x0_(x0.contiguous()),
        options_(options),
        u_(x0_.clone()),
        decoupled_(process.semantics == lang::Semantics::decoupled) {
    if (decoupled_) variance_ = at::zeros_like(x0_);
  }

  /// Advances the state to `target` and returns the snapshot there.
  at::Tensor snapshot(double target, std::uint64_t index) {
    advance(target);
    if (!decoupled_) return u_.clone();
    NoiseSource source = stream(kSnapshotStreamBase + index);
    const at::Tensor zeta = correlated_noise(kernels_, noise_, u_, source, target);
    return (u_ + at::sqrt(variance_) * zeta).contiguous();
  }

 private:
  NoiseSource stream(std::uint64_t step) const {
    NoiseSource source;
    source.seed = options_.seed;
    source.step = step;
    source.sample_ids = options_.sample_ids;
    return source;
  }

  void advance(double target) {
    const double dt = process_.time.dt;
    // Full steps, then one shortened step that lands on the target exactly.
    const GridPosition position = grid_position(target, dt, t_);
    if (position.steps > 0) take_steps(dt, position.steps);
    if (position.rest > 0) take_steps(position.rest, 1);
    t_ = target;
  }

  void take_steps(double h, std::int64_t count) {
    if (decoupled_) {
      u_ = kernels_.flow_steps(u_, x0_, t_, h, count, &variance_);
      t_ += h * static_cast<double>(count);
      return;
    }
    for (std::int64_t k = 0; k < count; ++k) {
      NoiseSource source = stream(step_);
      if (!noise_.is_identity())
        source.correlated = correlated_noise(kernels_, noise_, u_, source, t_);
      u_ = kernels_.forward_step(u_, x0_, t_, h, source);
      t_ += h;
      ++step_;
    }
  }

  ProcessKernels& kernels_;
  const lang::Process& process_;
  const NoiseOperator& noise_;
  at::Tensor x0_;
  const ForwardOptions& options_;
  at::Tensor u_;
  at::Tensor variance_;
  bool decoupled_;
  double t_ = 0;
  std::uint64_t step_ = 0;
};

}  // namespace

SnapshotStats snapshot_stats(double t, const at::Tensor& xt, const at::Tensor& x0) {
  SnapshotStats stats;
  stats.t = t;
  const at::Tensor x = xt.to(at::kDouble);
  const at::Tensor y = x0.to(at::kDouble);
  stats.mean = x.mean().item<double>();
  stats.std = x.std().item<double>();
  // Squared Pearson correlation per image; a constant image explains nothing.
  const at::Tensor xc = x.flatten(1) - x.flatten(1).mean(1, true);
  const at::Tensor yc = y.flatten(1) - y.flatten(1).mean(1, true);
  const at::Tensor denominator = (xc * xc).sum(1) * (yc * yc).sum(1);
  const at::Tensor numerator = (xc * yc).sum(1).pow(2);
  const at::Tensor r2 = at::where(denominator > 0, numerator / denominator.clamp_min(1e-300),
                                  at::zeros_like(numerator));
  stats.explained = r2.mean().item<double>();
  const at::Tensor dx = x.narrow(3, 1, x.size(3) - 1) - x.narrow(3, 0, x.size(3) - 1);
  const at::Tensor dy = x.narrow(2, 1, x.size(2) - 1) - x.narrow(2, 0, x.size(2) - 1);
  const double pixels = static_cast<double>(x.numel());
  stats.edge_energy = ((dx * dx).sum().item<double>() + (dy * dy).sum().item<double>()) / pixels;
  return stats;
}

ForwardResult simulate_forward(ProcessKernels& kernels, const lang::Process& process,
                               const NoiseOperator& noise, const at::Tensor& x0,
                               const ForwardOptions& options) {
  check_times(options.times, process);
  if (x0.dim() != 4) throw std::invalid_argument("forward simulation: x0 must be [N, C, H, W]");
  Simulation simulation(kernels, process, noise, x0, options);
  ForwardResult result;
  std::vector<at::Tensor> snapshots;
  for (std::size_t i = 0; i < options.times.size(); ++i) {
    const double t = options.times[i];
    at::Tensor state = t == 0.0 ? x0.contiguous().clone() : simulation.snapshot(t, i);
    result.stats.push_back(snapshot_stats(t, state, x0));
    snapshots.push_back(std::move(state));
  }
  result.states = at::stack(snapshots);
  return result;
}

}  // namespace spdec::runtime
