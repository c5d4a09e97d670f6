// The oracle of the differentiator tests (lang's ddt and codegen's ∂g₂/∂u):
// random expressions of one variable rooted at a chosen operation, and a
// comparison of a symbolic derivative with central differences.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "lang/expr.hpp"
#include "lang/ops.hpp"

namespace spdec::test {

/// Random checked expressions of t built from the op table's scalar (and,
/// when `vectors`, vector) operations, through lang's own constructors.
class RandomExpressions {
 public:
  RandomExpressions(std::uint64_t seed, bool vectors) : rng_(seed), vectors_(vectors) {
    for (const lang::OpInfo& row : lang::all_ops()) {
      if (row.kind == lang::OpKind::scalar ||
          (vectors && row.kind == lang::OpKind::vector && row.op != lang::Op::make_vector &&
           row.op != lang::Op::make_matrix)) {
        scalar_ops_.push_back(row.op);
      }
    }
  }

  /// `op` of random operands `depth` − 1 levels deep; a vector result only
  /// for operations that always give one, or at random where vectors are on.
  lang::ExprRef rooted(lang::Op op, int depth) {
    const lang::ShapeRule rule = lang::op_info(op).shape;
    if (rule == lang::ShapeRule::scalars_to_matrix) return build(op, depth, lang::Shape::matrix);
    const bool vector = rule == lang::ShapeRule::scalars_to_vector ||
                        (vectors_ && shape_follows_operands(rule) && coin(0.3));
    return build(op, depth, vector ? lang::Shape::vector : lang::Shape::scalar);
  }

  lang::ExprRef scalar(int depth) {
    if (depth <= 0 || coin(0.2)) {
      return leaf();
    }
    return build(pick(scalar_ops_), depth, lang::Shape::scalar);
  }

  lang::ExprRef vector(int depth) {
    if (depth <= 0 || coin(0.3)) {
      return lang::make_vector(scalar(depth - 1), scalar(depth - 1), {});
    }
    static const std::vector<lang::Op> kVectorResults = {lang::Op::neg, lang::Op::add,
                                                         lang::Op::sub, lang::Op::mul,
                                                         lang::Op::div, lang::Op::select};
    return build(pick(kVectorResults), depth, lang::Shape::vector);
  }

  double uniform(double lo, double hi) { return std::uniform_real_distribution<>(lo, hi)(rng_); }

 private:
  static bool shape_follows_operands(lang::ShapeRule rule) {
    return rule == lang::ShapeRule::keep || rule == lang::ShapeRule::same ||
           rule == lang::ShapeRule::product || rule == lang::ShapeRule::quotient ||
           rule == lang::ShapeRule::branches;
  }

  lang::ExprRef build(lang::Op op, int depth, lang::Shape result) {
    std::vector<lang::ExprRef> args;
    for (const lang::Shape shape : operand_shapes(op, result)) {
      args.push_back(shape == lang::Shape::scalar ? scalar(depth - 1) : vector(depth - 1));
    }
    if (op == lang::Op::select) {
      args[0] = lang::binary(lang::Op::lt, scalar(depth - 1), scalar(depth - 1), {});
    }
    if (op == lang::Op::pow && coin(0.5)) {
      args[1] = lang::constant(pick(kExponents), {});  // the rule for a number exponent
    }
    return lang::make_operation(op, std::move(args), {});
  }

  std::vector<lang::Shape> operand_shapes(lang::Op op, lang::Shape result) {
    using lang::Shape;
    const std::size_t arity = lang::op_info(op).arity;
    switch (lang::op_info(op).shape) {
      case lang::ShapeRule::scalars:
      case lang::ShapeRule::scalars_to_vector:
      case lang::ShapeRule::scalars_to_matrix:
        return std::vector<Shape>(arity, Shape::scalar);
      case lang::ShapeRule::vectors_to_scalar:
        return std::vector<Shape>(arity, Shape::vector);
      case lang::ShapeRule::keep:
      case lang::ShapeRule::same:
        return std::vector<Shape>(arity, result);
      case lang::ShapeRule::product:
        if (result == Shape::scalar) return {Shape::scalar, Shape::scalar};
        return coin(0.5) ? std::vector<Shape>{Shape::scalar, Shape::vector}
                         : std::vector<Shape>{Shape::vector, Shape::scalar};
      case lang::ShapeRule::quotient:
        return {result, Shape::scalar};
      case lang::ShapeRule::branches:
        return {Shape::scalar, result, result};
    }
    return {};
  }

  lang::ExprRef leaf() {
    if (coin(0.6)) {
      return lang::leaf(lang::Op::time);
    }
    return lang::constant(uniform(-2.0, 2.0), {});
  }

  bool coin(double p) { return std::bernoulli_distribution(p)(rng_); }

  template <class T>
  const T& pick(const std::vector<T>& items) {
    return items.at(std::uniform_int_distribution<std::size_t>(0, items.size() - 1)(rng_));
  }

  static inline const std::vector<double> kExponents = {-1.0, 0.5, 2.0, 3.0, 2.5};

  std::mt19937_64 rng_;
  bool vectors_;
  std::vector<lang::Op> scalar_ops_;
};

struct DerivativeCheck {
  bool usable = false;  ///< f and d finite, and f smooth on [x − h, x + h]
  bool agrees = false;
  double estimate = 0;  ///< the extrapolated central difference
  double tolerance = 0;
};

/// Compares a symbolic derivative d with central differences of f at x.
///
/// D(s) = (f(x + s) − f(x − s)) / 2s errs by f'''s²/6 + O(s⁴) (truncation)
/// and by about ε·max|f|/s (rounding of the two values). With
/// h = 10⁻³·max(1, |x|) and D₁, D₂, D₄ the differences at h, h/2, h/4:
///   - f is smooth at this scale when D₁ − D₂ ≈ 4 (D₂ − D₄) (the h² law)
///     and both are small; a kink or jump within h breaks the law (a kink
///     at distance δ gives D₂ − D₄ = 2 (D₁ − D₂)) and the point is skipped
///     rather than compared across the kink;
///   - the Richardson value (4 D₄ − D₂)/3 then errs by O(h⁴), far below
///     |D₂ − D₄| ≈ f'''h²/32, which with the rounding 64 ε max|f| / (h/4)
///     (depth-4 expressions round within tens of ulps) and 10⁻⁷ relative
///     for d's own rounding is the tolerance. A wrong rule is off by O(1).
/// f should be NaN where any of its subexpressions is not finite: fmin and
/// fmax hide a NaN operand (min(a, NaN) = a) while the rules, like the
/// language (field values are finite), do not guard against one.
template <class F>
DerivativeCheck check_derivative(const F& f, double x, double d) {
  const double h = 1e-3 * std::max(1.0, std::fabs(x));
  const auto difference = [&](double s) { return (f(x + s) - f(x - s)) / (2 * s); };
  double largest = 0;
  for (const double s : {0.0, h, -h, h / 2, -h / 2, h / 4, -h / 4}) {
    const double v = f(x + s);
    if (!std::isfinite(v)) return {};
    largest = std::max(largest, std::fabs(v));
  }
  if (!std::isfinite(d) || largest > 1e6 || std::fabs(d) > 1e6) return {};
  const double d1 = difference(h);
  const double d2 = difference(h / 2);
  const double d4 = difference(h / 4);
  const double rounding = 64 * std::numeric_limits<double>::epsilon() * largest / (h / 4);
  const bool smooth = std::fabs(d1 - d2) <= 1e-3 * (1 + std::fabs(d2)) &&
                      std::fabs(d2 - d4) <= 0.5 * std::fabs(d1 - d2) + rounding;
  if (!smooth) return {};
  DerivativeCheck check;
  check.usable = true;
  check.estimate = (4 * d4 - d2) / 3;
  check.tolerance = std::fabs(d2 - d4) + rounding + 1e-7 * (1 + std::fabs(d));
  check.agrees = std::fabs(d - check.estimate) <= check.tolerance;
  return check;
}

}  // namespace spdec::test
