#include "lang/ddt.hpp"

namespace spdec::lang {

namespace {

// d/dt by the usual rules; `e` reads neither fields nor learnable knots.
ExprRef derive(const ExprRef& e) {
  const Span s = e->span;
  if (e->stage == Stage::constant) {
    return e->shape == Shape::scalar ? constant(0.0, s)
                                     : make_vector(constant(0.0, s), constant(0.0, s), s);
  }
  auto d = [](const ExprRef& x) { return derive(x); };
  const auto& a = e->args;
  // A factor whose derivative is exactly zero contributes nothing: dropping
  // the term (rather than writing 0·x) also avoids 0·inf = NaN at λ(T) = inf.
  auto mul = [s](ExprRef x, ExprRef y) {
    if (x->is_constant(0.0) || y->is_constant(0.0)) {
      return constant(0.0, s);
    }
    return binary(Op::mul, std::move(x), std::move(y), s);
  };
  auto div = [s](ExprRef x, ExprRef y) { return binary(Op::div, std::move(x), std::move(y), s); };
  auto add = [s](ExprRef x, ExprRef y) { return binary(Op::add, std::move(x), std::move(y), s); };
  auto sub = [s](ExprRef x, ExprRef y) { return binary(Op::sub, std::move(x), std::move(y), s); };
  auto c = [s](double v) { return constant(v, s); };
  switch (e->op) {
    case Op::time:
      return c(1.0);
    case Op::neg:
      return unary(Op::neg, d(a[0]), s);
    case Op::add:
      return add(d(a[0]), d(a[1]));
    case Op::sub:
      return sub(d(a[0]), d(a[1]));
    case Op::mul:
      return add(mul(d(a[0]), a[1]), mul(a[0], d(a[1])));
    case Op::div:  // (a' b - a b') / b^2
      return div(sub(mul(d(a[0]), a[1]), mul(a[0], d(a[1]))), mul(a[1], a[1]));
    case Op::pow: {
      if (a[1]->stage == Stage::constant) {  // b a^(b-1) a'
        return mul(mul(a[1], binary(Op::pow, a[0], sub(a[1], c(1.0)), s)), d(a[0]));
      }
      // a^b (b' log a + b a'/a)
      return mul(e, add(mul(d(a[1]), unary(Op::log, a[0], s)), div(mul(a[1], d(a[0])), a[0])));
    }
    case Op::exp:
      return mul(e, d(a[0]));
    case Op::log:
      return div(d(a[0]), a[0]);
    case Op::sqrt:
      return div(d(a[0]), mul(c(2.0), e));
    case Op::abs:
      return select(binary(Op::ge, a[0], c(0.0), s), d(a[0]), unary(Op::neg, d(a[0]), s), s);
    case Op::sin:
      return mul(unary(Op::cos, a[0], s), d(a[0]));
    case Op::cos:
      return unary(Op::neg, mul(unary(Op::sin, a[0], s), d(a[0])), s);
    case Op::tanh:
      return mul(sub(c(1.0), mul(e, e)), d(a[0]));
    case Op::sigmoid:
      return mul(mul(e, sub(c(1.0), e)), d(a[0]));
    case Op::min:
      return select(binary(Op::le, a[0], a[1], s), d(a[0]), d(a[1]), s);
    case Op::max:
      return select(binary(Op::ge, a[0], a[1], s), d(a[0]), d(a[1]), s);
    case Op::select:  // piecewise: the condition is locally constant
      return select(a[0], d(a[1]), d(a[2]), s);
    case Op::lt:
    case Op::le:
    case Op::gt:
    case Op::ge:
    case Op::eq:
    case Op::ne:
    case Op::logical_and:
    case Op::logical_or:
    case Op::logical_not:
      return c(0.0);  // piecewise constant
    case Op::make_vector:
      return make_vector(d(a[0]), d(a[1]), s);
    case Op::dot:
      return add(binary(Op::dot, d(a[0]), a[1], s), binary(Op::dot, a[0], d(a[1]), s));
    case Op::norm2:
      return mul(c(2.0), binary(Op::dot, a[0], d(a[0]), s));
    case Op::norm:
      return div(binary(Op::dot, a[0], d(a[0]), s), e);
    default:
      internal_error(std::string("ddt of ") + name(e->op));
  }
}

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
  return derive(e);
}

}  // namespace spdec::lang
