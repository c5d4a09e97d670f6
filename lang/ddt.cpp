#include "lang/ddt.hpp"

#include <optional>
#include <span>
#include <vector>

#include "lang/differentiate.hpp"

namespace spdec::lang {

namespace {

/// d/dt in checked expressions: the variable is `t`; an expression of
/// constant stage does not read it. New nodes take the span of the
/// expression whose derivative they are part of.
class TimeAlgebra {
 public:
  using Term = ExprRef;

  static Term number(double v, const Term& origin) { return constant(v, origin->span); }

  static Term apply(Op op, std::span<const Term> operands, const Term& origin) {
    // A factor that is exactly zero contributes nothing: dropping the term
    // (rather than writing 0·x) also avoids 0·inf = NaN at λ(T) = inf. The
    // zero has the product's shape (2·v differentiates to 0·v + 2·v').
    if (op == Op::mul && (operands[0]->is_constant(0.0) || operands[1]->is_constant(0.0))) {
      const auto has = [&](Shape shape) {
        return operands[0]->shape == shape || operands[1]->shape == shape;
      };
      // s·v, v·s and M·v are vectors; s·M and M·s matrices.
      const Shape shape = has(Shape::vector)   ? Shape::vector
                          : has(Shape::matrix) ? Shape::matrix
                                               : Shape::scalar;
      return zero_of(shape, origin->span);
    }
    return make_operation(op, {operands.begin(), operands.end()}, origin->span);
  }

  // A scalar of constant stage is always folded to a number.
  static bool is_number(const Term& e) { return e->is_constant(); }
  static const Expr* key(const Term& e) { return e.get(); }

  static std::optional<Op> operation(const Term& e) {
    if (derivative_rule(e->op, false) == nullptr) {
      return std::nullopt;
    }
    return e->op;
  }

  static std::vector<Term> operands(const Term& e) { return e->args; }
  static bool independent(const Term& e) { return e->stage == Stage::constant; }

  static Term zero(const Term& e) { return zero_of(e->shape, e->span); }

  static Term zero_of(Shape shape, Span s) {
    switch (shape) {
      case Shape::scalar:
        break;
      case Shape::vector:
        return make_vector(constant(0.0, s), constant(0.0, s), s);
      case Shape::matrix:
        return make_matrix(constant(0.0, s), constant(0.0, s), constant(0.0, s), s);
    }
    return constant(0.0, s);
  }

  static Term own_derivative(const Term& e, Differentiator<TimeAlgebra>& /*unused*/) {
    if (e->op != Op::time) {
      // Fields and learnable knots are refused before differentiating.
      internal_error(std::string("ddt of ") + name(e->op));
    }
    return constant(1.0, e->span);
  }
};

}  // namespace

ExprRef time_derivative(const ExprRef& e, Span span, const SourcePtr& file,
                        Diagnostics& diagnostics) {
  if (e->stage == Stage::field) {
    diagnostics.error("E031", file, span,
                      "ddt(e) needs an expression of time alone; this one varies per pixel",
                      "ddt is the symbolic time derivative of schedules, e.g. ddt(sigma(t)^2)");
    return nullptr;
  }
  if ((e->reads & reads_knots) != 0) {
    diagnostics.error("E031", file, span, "ddt of a learnable schedule is not supported",
                      "declare the rate itself as the learnable schedule");
    return nullptr;
  }
  TimeAlgebra algebra;
  Differentiator<TimeAlgebra> differentiator(algebra);
  return differentiator.derivative(e);
}

}  // namespace spdec::lang
