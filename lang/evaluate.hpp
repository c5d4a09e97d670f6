// Host evaluation of checked expressions in double precision: time-stage
// values (once per step), learnable schedules, and field expressions at a
// flat state (every field and every difference zero, every smoothing the
// value it smooths), which is where the stability bound of an explicit step
// is taken.
#pragma once

#include <vector>

#include "lang/expr.hpp"
#include "lang/process.hpp"

namespace spdec::lang {

/// A scalar is x; a vector (x, y); a matrix [[x, y], [y, z]].
struct Value {
  double x = 0;
  double y = 0;
  double z = 0;
};

struct EvalContext {
  double t = 0;
  double kappa = 0;
  /// Current knot values per learnable schedule (log-linear interpolation);
  /// null uses each schedule's init values.
  const std::vector<std::vector<double>>* knot_values = nullptr;
  const std::vector<Learnable>* learnables = nullptr;
};

[[nodiscard]] Value evaluate(const ExprRef& e, const EvalContext& context);
[[nodiscard]] double evaluate_scalar(const ExprRef& e, const EvalContext& context);

/// Log-linear interpolation through (times[i], values[i]), values > 0;
/// clamped to the end values outside [times.front(), times.back()].
[[nodiscard]] double interpolate_log_linear(const std::vector<double>& times,
                                            const std::vector<double>& values, double t);

}  // namespace spdec::lang
