#include "lang/evaluate.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "lang/diagnostics.hpp"
#include "lang/ops.hpp"

namespace spdec::lang {

double interpolate_log_linear(const std::vector<double>& times, const std::vector<double>& values,
                              double t) {
  if (times.empty() || times.size() != values.size()) {
    internal_error("interpolate_log_linear: bad knots");
  }
  if (t <= times.front()) {
    return values.front();
  }
  if (t >= times.back()) {
    return values.back();
  }
  const auto upper = std::upper_bound(times.begin(), times.end(), t);
  const auto i = static_cast<std::size_t>(upper - times.begin());
  const double w = (t - times[i - 1]) / (times[i] - times[i - 1]);
  return std::exp((1.0 - w) * std::log(values[i - 1]) + w * std::log(values[i]));
}

Value evaluate(const ExprRef& e, const EvalContext& context) {
  switch (e->op) {
    case Op::constant:
      return {e->value, 0, 0};
    case Op::time:
      return {context.t, 0, 0};
    case Op::kappa:
      return {context.kappa, 0, 0};
    case Op::shift:
      return evaluate(e->args[0], context);
    case Op::knots: {
      if (context.learnables == nullptr) {
        internal_error("evaluating a learnable schedule without its knots");
      }
      const auto index = static_cast<std::size_t>(e->index);
      const Learnable& l = context.learnables->at(index);
      const std::vector<double>& values =
          context.knot_values != nullptr ? context.knot_values->at(index) : l.init_values;
      return {interpolate_log_linear(l.knot_times, values, evaluate(e->args[0], context).x), 0, 0};
    }
    case Op::make_vector:
      return {evaluate(e->args[0], context).x, evaluate(e->args[1], context).x, 0};
    case Op::make_matrix:
      return {evaluate(e->args[0], context).x, evaluate(e->args[1], context).x,
              evaluate(e->args[2], context).x};
    case Op::gauss:  // normalised weights: smoothing a flat field gives its value
      return evaluate(e->args[0], context);
    case Op::norm2: {
      const Value v = evaluate(e->args[0], context);
      return {v.x * v.x + v.y * v.y, 0, 0};
    }
    case Op::norm: {
      const Value v = evaluate(e->args[0], context);
      return {std::sqrt(v.x * v.x + v.y * v.y), 0, 0};
    }
    case Op::dot: {
      const Value a = evaluate(e->args[0], context);
      const Value b = evaluate(e->args[1], context);
      return {a.x * b.x + a.y * b.y, 0, 0};
    }
    case Op::select: {
      const Value c = evaluate(e->args[0], context);
      return evaluate(c.x != 0.0 ? e->args[1] : e->args[2], context);
    }
    case Op::mul:
      if (e->args[0]->shape == Shape::matrix) {
        const Value m = evaluate(e->args[0], context);
        const Value v = evaluate(e->args[1], context);
        return {m.x * v.x + m.y * v.y, m.y * v.x + m.z * v.y, 0};
      }
      break;
    default:
      break;
  }
  const OpKind kind = op_info(e->op).kind;
  if (kind == OpKind::leaf || kind == OpKind::stencil) {
    return {0, 0, 0};  // a flat state: the other leaves (u, u0, x, y) and every difference are 0
  }
  // Arithmetic: component-wise for vectors, scalars broadcast.
  std::array<Value, 2> v{};
  for (std::size_t i = 0; i < e->args.size() && i < 2; ++i) {
    v[i] = evaluate(e->args[i], context);
  }
  auto pick = [&](std::size_t i, bool second) {
    return (second && e->args[i]->shape == Shape::vector) ? v[i].y : v[i].x;
  };
  std::array<double, 2> first = {pick(0, false), e->args.size() > 1 ? pick(1, false) : 0.0};
  Value out{apply_scalar(e->op, first.data()), 0, 0};
  if (e->shape == Shape::vector) {
    std::array<double, 2> second = {pick(0, true), e->args.size() > 1 ? pick(1, true) : 0.0};
    out.y = apply_scalar(e->op, second.data());
  }
  return out;
}

double evaluate_scalar(const ExprRef& e, const EvalContext& context) {
  return evaluate(e, context).x;
}

}  // namespace spdec::lang
