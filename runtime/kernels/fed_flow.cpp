// Φ_t by FED cycles with a lagged conductance (see runtime/kernels/fed_flow.hpp).
#include "runtime/kernels/fed_flow.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace spdec::runtime {
namespace {

constexpr std::int64_t kProbeSize = 33;

bool is_prime(std::int64_t p) {
  if (p < 2) return false;
  for (std::int64_t d = 2; d * d <= p; ++d) {
    if (p % d == 0) return false;
  }
  return true;
}

/// A κ-cycle permutation of 0..n−1: the residues (m κ mod p) − 1 for
/// m = 1, 2, ... that fall below n, with p the least prime > n and κ = n/2.
/// Since p is prime, m κ mod p runs through 1..p−1 once each, so every step
/// appears exactly once; consecutive picks are κ apart modulo p, which
/// interleaves the large steps (high i) with small ones.
std::vector<std::size_t> kappa_order(std::size_t n) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (n < 3) return order;
  const auto kappa = static_cast<std::int64_t>(n / 2);
  auto p = static_cast<std::int64_t>(n) + 1;
  while (!is_prime(p)) ++p;
  std::size_t taken = 0;
  for (std::int64_t m = 1; taken < n; ++m) {
    const std::int64_t index = (m * kappa) % p - 1;
    if (index >= 0 && index < static_cast<std::int64_t>(n)) {
      order[taken++] = static_cast<std::size_t>(index);
    }
  }
  return order;
}

void check_time(double t, double T) {
  if (!(t >= 0.0) || t > T * (1.0 + 1e-12)) {
    throw std::invalid_argument("fed_flow: t = " + std::to_string(t) +
                                " is outside [0, T = " + std::to_string(T) + "]");
  }
}

at::Tensor slice(const at::Tensor& u, std::int64_t first, std::int64_t count) {
  return u.defined() ? u.narrow(0, first, count).contiguous() : u;
}

/// The cycles of Φ_t after the whole ones: the partial [t_j, t] (none when t
/// is a boundary).
std::vector<FedCycle> partial_cycles(ProcessKernels& kernels, const FedSchedule& schedule,
                                     double t) {
  const std::size_t whole = schedule.whole_cycles(t);
  const double from = whole == 0 ? 0.0 : schedule.cycles[whole - 1].t_end;
  if (t <= from) return {};
  return fed_cycles(kernels, from, t, schedule.reads_u0, schedule.options);
}

/// Runs `cycles` on u (frozen at each cycle's start), adding to variance.
at::Tensor run_cycles(ProcessKernels& kernels, at::Tensor u, const at::Tensor& u0,
                      const std::vector<FedCycle>& cycles, at::Tensor* variance) {
  for (const FedCycle& cycle : cycles) u = kernels.fed_steps(u, u, u0, cycle, variance);
  return u;
}

/// The frozen states L is probed at (docs/fed.md): flat, where every
/// conductance decreasing in |∇v| peaks (Perona–Malik, edge-enhancing
/// tensors), and strong stripes along x, y and both diagonals — period 4
/// pixels, amplitude 10, coherent over the whole probe — where a
/// coherence-enhancing tensor peaks in each orientation its stencil
/// distinguishes.
std::vector<at::Tensor> probe_states(const at::Tensor& flat) {
  const at::Tensor index = at::arange(kProbeSize, flat.options());
  const at::Tensor x = index.view({1, 1, 1, kProbeSize}).expand_as(flat);
  const at::Tensor y = index.view({1, 1, kProbeSize, 1}).expand_as(flat);
  const double wavenumber = 2.0 * std::numbers::pi / 4.0;
  std::vector<at::Tensor> states{flat};
  for (const at::Tensor& phase : {x, y, x + y, x - y}) {
    states.push_back((10.0 * at::sin(wavenumber * phase)).contiguous());
  }
  return states;
}

}  // namespace

double fed_operator_bound(ProcessKernels& kernels, double t_begin, double t_end, bool reads_u0) {
  const auto options = at::TensorOptions().dtype(at::kFloat);
  at::Tensor delta = at::zeros({1, 1, kProbeSize, kProbeSize}, options);
  delta[0][0][kProbeSize / 2][kProbeSize / 2] = 1.0F;
  const at::Tensor flat = at::zeros_like(delta);
  const at::Tensor u0 = reads_u0 ? flat : at::Tensor();
  const FedCycle probe{t_begin, t_end, {1.0}};
  double bound = 0.0;
  for (const at::Tensor& frozen : probe_states(flat)) {
    const at::Tensor response = kernels.fed_steps(delta, frozen, u0, probe) - delta;
    const double sum = response.abs().sum().item<double>();
    // A state a conductance cannot take (a power overflowing) bounds nothing.
    if (std::isfinite(sum)) bound = std::max(bound, sum);
  }
  return bound;
}

std::vector<double> fed_step_sizes(double length, double tau_max) {
  if (!(length > 0.0)) return {};
  if (!(tau_max > 0.0) || !std::isfinite(tau_max)) {
    throw std::invalid_argument("fed_step_sizes: tau_max must be positive and finite");
  }
  const double ratio = length / tau_max;
  if (!std::isfinite(ratio)) return {length};  // the zero operator: any single step is exact
  auto n = static_cast<std::size_t>(std::ceil(std::sqrt(3.0 * ratio + 0.25) - 0.5 - 1e-12));
  n = std::max<std::size_t>(n, 1);
  const auto nd = static_cast<double>(n);
  const double scale = 3.0 * length / (tau_max * nd * (nd + 1.0));
  std::vector<double> natural(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double c =
        std::cos(std::numbers::pi * (2.0 * static_cast<double>(i) + 1.0) / (4.0 * nd + 2.0));
    natural[i] = scale * tau_max / (2.0 * c * c);
  }
  std::vector<double> ordered;
  ordered.reserve(n);
  for (const std::size_t i : kappa_order(n)) ordered.push_back(natural[i]);
  return ordered;
}

std::vector<FedCycle> fed_cycles(ProcessKernels& kernels, double t_begin, double t_end,
                                 bool reads_u0, const FedOptions& options) {
  if (!(t_end > t_begin)) return {};
  const double bound = fed_operator_bound(kernels, t_begin, t_end, reads_u0);
  const double length = t_end - t_begin;
  if (!(bound > 0.0)) return {FedCycle{t_begin, t_end, {length}}};  // the zero operator
  const double tau_max = options.safety * 2.0 / bound;
  std::vector<double> taus = fed_step_sizes(length, tau_max);
  if (static_cast<std::int64_t>(taus.size()) <= options.max_steps) {
    return {FedCycle{t_begin, t_end, std::move(taus)}};
  }
  // Too long for one cycle: halve (each half probes its own bound).
  const double middle = t_begin + 0.5 * length;
  std::vector<FedCycle> out = fed_cycles(kernels, t_begin, middle, reads_u0, options);
  std::vector<FedCycle> rest = fed_cycles(kernels, middle, t_end, reads_u0, options);
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

FedSchedule FedSchedule::build(ProcessKernels& kernels, const lang::Process& process,
                               const FedOptions& options) {
  if (options.cycles < 1 || options.max_steps < 1 || options.probe_points < 2 ||
      !(options.safety > 0.0 && options.safety <= 1.0)) {
    throw std::invalid_argument(
        "FedSchedule: cycles, max_steps >= 1, probe_points >= 2, 0 < safety <= 1");
  }
  FedSchedule schedule;
  schedule.T = process.time.T;
  schedule.options = options;
  // The kernels want u0 whenever the drift or the diffusion reads it.
  const unsigned reads = (process.drift ? process.drift->reads : 0U) |
                         (process.diffusion ? process.diffusion->reads : 0U);
  schedule.reads_u0 = (reads & lang::reads_u0) != 0;
  // The grading measure W(t) = ∫₀ᵗ density: L (operator time) or L/σ
  // (noise-relative), by the midpoint rule on the probe intervals (σ(0) = 0
  // makes L/σ singular, ~1/√t, but integrable; midpoints never touch it).
  const std::int64_t points = options.probe_points;
  std::vector<double> times(static_cast<std::size_t>(points));
  std::vector<double> lambda(static_cast<std::size_t>(points), 0.0);
  for (std::int64_t i = 0; i < points; ++i) {
    times[static_cast<std::size_t>(i)] =
        schedule.T * static_cast<double>(i) / static_cast<double>(points - 1);
  }
  const auto state = at::zeros({1, 1, 8, 8}, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor u0 = schedule.reads_u0 ? state : at::Tensor();
  const auto mean_g2 = [&](double t) {
    return kernels.diffusion(state, u0, t).square().mean().item<double>();
  };
  bool noise_relative = options.grading == FedGrading::noise_relative;
  double variance = 0.0;
  std::vector<double> density(static_cast<std::size_t>(points - 1));
  std::vector<double> sigma(static_cast<std::size_t>(points - 1));
  for (std::int64_t i = 0; i + 1 < points; ++i) {
    const double a = times[static_cast<std::size_t>(i)];
    const double b = times[static_cast<std::size_t>(i + 1)];
    const double mid = 0.5 * (a + b);
    density[static_cast<std::size_t>(i)] = fed_operator_bound(kernels, mid, mid, schedule.reads_u0);
    if (noise_relative) {
      // v(mid) = v(a) + ∫_a^mid g² (midpoint of the half interval).
      const double half = mid - a;
      sigma[static_cast<std::size_t>(i)] = std::sqrt(variance + half * mean_g2(a + 0.5 * half));
      variance += (b - a) * mean_g2(mid);
    }
  }
  if (noise_relative && !(variance > 0.0)) noise_relative = false;  // no noise at all
  for (std::int64_t i = 0; i + 1 < points; ++i) {
    const auto k = static_cast<std::size_t>(i);
    double d = density[k];
    if (noise_relative) d /= std::max(sigma[k], 1e-12 * std::sqrt(variance));
    lambda[k + 1] = lambda[k] + d * (times[k + 1] - times[k]);
  }
  // Boundaries at equal increments of W (uniform in t for the zero operator).
  std::vector<double> boundaries{0.0};
  const double total = lambda.back();
  for (std::int64_t k = 1; k < options.cycles; ++k) {
    const double fraction = static_cast<double>(k) / static_cast<double>(options.cycles);
    double b = fraction * schedule.T;
    if (total > 0.0) {
      const double target = fraction * total;
      const auto it = std::lower_bound(lambda.begin(), lambda.end(), target);
      const auto i = static_cast<std::size_t>(std::max<std::ptrdiff_t>(it - lambda.begin(), 1));
      const double span = lambda[i] - lambda[i - 1];
      const double w = span > 0.0 ? (target - lambda[i - 1]) / span : 0.0;
      b = times[i - 1] + w * (times[i] - times[i - 1]);
    }
    if (b > boundaries.back()) boundaries.push_back(b);
  }
  boundaries.push_back(schedule.T);
  for (std::size_t j = 0; j + 1 < boundaries.size(); ++j) {
    std::vector<FedCycle> piece =
        fed_cycles(kernels, boundaries[j], boundaries[j + 1], schedule.reads_u0, options);
    schedule.cycles.insert(schedule.cycles.end(), piece.begin(), piece.end());
  }
  return schedule;
}

std::size_t FedSchedule::whole_cycles(double t) const {
  std::size_t count = 0;
  while (count < cycles.size() && cycles[count].t_end <= t) ++count;
  return count;
}

std::int64_t FedSchedule::total_steps() const {
  std::int64_t steps = 0;
  for (const FedCycle& cycle : cycles) steps += static_cast<std::int64_t>(cycle.taus.size());
  return steps;
}

at::Tensor fed_flow(ProcessKernels& kernels, const lang::Process& /*process*/, const at::Tensor& x0,
                    double t, const FedSchedule& schedule, at::Tensor* variance,
                    const at::Tensor& u0) {
  check_time(t, schedule.T);
  const std::size_t whole = schedule.whole_cycles(t);
  const std::vector<FedCycle> first(schedule.cycles.begin(),
                                    schedule.cycles.begin() + static_cast<std::ptrdiff_t>(whole));
  at::Tensor u = run_cycles(kernels, x0.contiguous(), u0, first, variance);
  u = run_cycles(kernels, u, u0, partial_cycles(kernels, schedule, t), variance);
  return whole == 0 && u.is_same(x0) ? x0.clone() : u;
}

at::Tensor fed_flow_batch(ProcessKernels& kernels, const lang::Process& /*process*/,
                          const at::Tensor& x0, std::span<const double> t,
                          const FedSchedule& schedule, at::Tensor* variance, const at::Tensor& u0) {
  const std::int64_t n = x0.size(0);
  if (static_cast<std::int64_t>(t.size()) != n) {
    throw std::invalid_argument("fed_flow_batch: one time per sample");
  }
  for (const double ti : t) check_time(ti, schedule.T);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return t[static_cast<std::size_t>(a)] < t[static_cast<std::size_t>(b)];
  });
  const at::Tensor index = at::tensor(order, at::TensorOptions().dtype(at::kLong));
  at::Tensor u = x0.index_select(0, index.to(x0.device())).contiguous();
  const at::Tensor sorted_u0 =
      u0.defined() ? u0.index_select(0, index.to(u0.device())).contiguous() : u0;
  at::Tensor var = variance != nullptr ? at::zeros_like(u) : at::Tensor();
  std::vector<at::Tensor> flows(static_cast<std::size_t>(n));
  std::vector<at::Tensor> variances(static_cast<std::size_t>(n));
  std::size_t done = 0;  // whole cycles run on u
  for (std::int64_t j = 0; j < n; ++j) {
    const auto i = static_cast<std::size_t>(order[static_cast<std::size_t>(j)]);
    const std::int64_t remaining = n - j;  // u holds sorted samples j..n−1
    const at::Tensor u0_rest = slice(sorted_u0, j, remaining);
    const std::size_t whole = schedule.whole_cycles(t[i]);
    for (; done < whole; ++done) {
      u = kernels.fed_steps(u, u, u0_rest, schedule.cycles[done], var.defined() ? &var : nullptr);
    }
    at::Tensor ui = u.narrow(0, 0, 1).clone();
    at::Tensor vi = var.defined() ? var.narrow(0, 0, 1).clone() : at::Tensor();
    ui = run_cycles(kernels, ui, slice(u0_rest, 0, 1), partial_cycles(kernels, schedule, t[i]),
                    vi.defined() ? &vi : nullptr);
    flows[i] = ui;
    variances[i] = vi;
    u = u.narrow(0, 1, remaining - 1).contiguous();
    if (var.defined()) var = var.narrow(0, 1, remaining - 1).contiguous();
  }
  if (variance != nullptr) *variance = at::cat(variances).contiguous();
  return at::cat(flows).contiguous();
}

FedPair fed_flow_pair(ProcessKernels& kernels, const lang::Process& /*process*/,
                      const at::Tensor& x0, double s, double t, const FedSchedule& schedule,
                      at::Tensor* variance_s, at::Tensor* variance_t, const at::Tensor& u0) {
  check_time(s, schedule.T);
  check_time(t, schedule.T);
  if (s > t) throw std::invalid_argument("fed_flow_pair: needs s <= t");
  const bool want_variance = variance_s != nullptr || variance_t != nullptr;
  at::Tensor var = want_variance ? at::zeros_like(x0) : at::Tensor();
  at::Tensor* var_ptr = want_variance ? &var : nullptr;
  at::Tensor u = x0.contiguous();
  std::size_t done = 0;
  const auto branch = [&](double time, at::Tensor* variance_out) {
    for (const std::size_t whole = schedule.whole_cycles(time); done < whole; ++done) {
      u = kernels.fed_steps(u, u, u0, schedule.cycles[done], var_ptr);
    }
    at::Tensor vi = want_variance ? var.clone() : at::Tensor();
    at::Tensor flow = run_cycles(kernels, u.clone(), u0, partial_cycles(kernels, schedule, time),
                                 want_variance ? &vi : nullptr);
    if (variance_out != nullptr) *variance_out = vi;
    return flow;
  };
  FedPair pair;
  pair.at_s = branch(s, variance_s);
  pair.at_t = branch(t, variance_t);
  return pair;
}

}  // namespace spdec::runtime
