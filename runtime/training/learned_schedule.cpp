#include "runtime/training/learned_schedule.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace spdec::runtime {
namespace {

/// Added to every increment: the knots stay strictly increasing even where
/// softplus underflows to zero.
constexpr double kFloor = 1e-10;
/// The smallest log-increment of the init values that the parameterisation
/// starts from (softplus⁻¹ of anything smaller is a large negative number,
/// whose gradient vanishes).
constexpr double kMinInitIncrement = 1e-6;

at::TensorOptions doubles() { return at::TensorOptions().dtype(at::kDouble); }

/// Where a schedule is declared, for errors: "file:line".
std::string where(const lang::Process& process, const lang::Learnable& learnable) {
  if (!process.file) return process.name;
  const auto position = process.file->line_column(learnable.span.begin);
  return fmt::format("{}:{}", process.file->path(), position.line);
}

/// softplus⁻¹(y) = log(eʸ − 1), stable for small and large y.
double inverse_softplus(double y) { return y + std::log(-std::expm1(-y)); }

}  // namespace

LearnedSchedules::LearnedSchedules(const lang::Process& process) {
  for (const lang::Learnable& learnable : process.learnables) {
    const std::vector<double>& init = learnable.init_values;
    std::vector<double> delta(init.size() - 1);
    for (std::size_t k = 0; k + 1 < init.size(); ++k) {
      const double increment = std::log(init[k + 1]) - std::log(init[k]);
      if (!(increment >= kMinInitIncrement)) {
        throw std::runtime_error(fmt::format(
            "{}: learnable schedule {}: joint training keeps the knots increasing (a monotone "
            "parameterisation), so the init values must increase from knot to knot; knots {} "
            "and {} go from {:.6g} to {:.6g} (an increasing init, e.g. geometric(a, b, t) "
            "with a < b, trains)",
            where(process, learnable), learnable.name, k, k + 1, init[k], init[k + 1]));
      }
      delta[k] = inverse_softplus(increment - kFloor);
    }
    Schedule schedule{learnable.name, learnable.knot_times, init, {}};
    schedule.delta = register_parameter(learnable.name, at::tensor(delta, doubles()));
    schedules_.push_back(std::move(schedule));
  }
}

at::Tensor LearnedSchedules::log_knots(std::size_t i) const {
  const Schedule& schedule = schedules_.at(i);
  const double first = std::log(schedule.init.front());
  const double climb = std::log(schedule.init.back()) - first;
  const at::Tensor increments = at::softplus(schedule.delta) + kFloor;
  const at::Tensor cumulative = at::cat({at::zeros({1}, doubles()), at::cumsum(increments, 0)});
  // Normalised by the total, so the last knot keeps its init value exactly.
  return first + climb * cumulative / cumulative[-1];
}

KnotValues LearnedSchedules::values() const {
  const at::NoGradGuard no_grad;
  KnotValues out;
  for (std::size_t i = 0; i < schedules_.size(); ++i) {
    const at::Tensor knots = at::exp(log_knots(i)).contiguous();
    out.emplace_back(knots.data_ptr<double>(), knots.data_ptr<double>() + knots.numel());
  }
  return out;
}

KnotSegment knot_segment(const std::vector<double>& times, const at::Tensor& t) {
  const double t0 = times.front();
  const auto segments = static_cast<std::int64_t>(times.size()) - 1;
  const double width = (times.back() - t0) / static_cast<double>(segments);
  const at::Tensor position = (t.to(at::kDouble) - t0) / width;
  const at::Tensor index = at::clamp(at::floor(position), 0, segments - 1).to(at::kLong);
  return {index, at::clamp(position - index.to(at::kDouble), 0.0, 1.0)};
}

at::Tensor LearnedSchedules::rate(std::size_t i, const at::Tensor& t) const {
  const at::Tensor log_q = log_knots(i);
  const KnotSegment segment = knot_segment(schedules_.at(i).times, t);
  const at::Tensor left = log_q.index_select(0, segment.index);
  const at::Tensor right = log_q.index_select(0, segment.index + 1);
  return at::exp(left + segment.fraction * (right - left));
}

namespace {

/// ∫ of q_k (q_{k+1}/q_k)^s over s ∈ [0, w], per unit segment length:
/// q_k (e^{wL} − 1) / L with L = log r, and q_k w where L is (nearly) zero.
/// The small-L branch is also used for L's value in the other branch, so
/// neither produces a NaN gradient.
at::Tensor partial_integral(const at::Tensor& log_left, const at::Tensor& log_ratio,
                            const at::Tensor& w) {
  const at::Tensor small = at::abs(log_ratio) < 1e-8;
  const at::Tensor safe = at::where(small, at::ones_like(log_ratio), log_ratio);
  const at::Tensor general = at::expm1(w * safe) / safe;
  // Second order in L for the small branch: w + w² L / 2.
  const at::Tensor series = w + 0.5 * w * w * log_ratio;
  return at::exp(log_left) * at::where(small, series, general);
}

}  // namespace

at::Tensor LearnedSchedules::variance(std::size_t i, const at::Tensor& t) const {
  const Schedule& schedule = schedules_.at(i);
  const at::Tensor log_q = log_knots(i);
  const auto n = log_q.size(0);
  const double t0 = schedule.times.front();
  const double end = schedule.times.back();
  const double width = (end - t0) / static_cast<double>(n - 1);
  const at::Tensor log_left = log_q.narrow(0, 0, n - 1);
  const at::Tensor log_ratio = log_q.narrow(0, 1, n - 1) - log_left;
  // Whole segments, then the running sums before each segment.
  const at::Tensor whole = width * partial_integral(log_left, log_ratio, at::ones_like(log_left));
  const at::Tensor before = at::cat({at::zeros({1}, doubles()), at::cumsum(whole, 0)});
  const at::Tensor times = t.to(at::kDouble);
  const KnotSegment segment = knot_segment(schedule.times, times);
  const at::Tensor inside =
      before.index_select(0, segment.index) +
      width * partial_integral(log_left.index_select(0, segment.index),
                               log_ratio.index_select(0, segment.index), segment.fraction);
  // Held end values outside [t0, T]: q_0 on [0, t0], q_{N-1} after T.
  const at::Tensor head = at::exp(log_q[0]) * at::clamp(times, 0.0, t0);
  const at::Tensor tail = at::exp(log_q[-1]) * at::clamp(times - end, 0.0);
  return head + inside + tail;
}

}  // namespace spdec::runtime
