#include "lang/builtins.hpp"

#include <cmath>
#include <optional>
#include <utility>

#include "lang/ddt.hpp"

namespace spdec::lang {

namespace {

/// Reports a shape problem at the offending argument; true when shapes are fine.
bool check_shapes(Op op, const BuiltinCall& call, Diagnostics& diagnostics) {
  std::vector<Shape> shapes;
  shapes.reserve(call.args.size());
  for (const ExprRef& a : call.args) {
    shapes.push_back(a->shape);
  }
  const ShapeProblem problem = shape_problem(op, shapes);
  if (problem.code.empty()) {
    return true;
  }
  std::string message = problem.message;
  if (call.args.size() > 1) {
    message = "argument " + std::to_string(problem.operand + 1) + " of `" + std::string(call.name) +
              "`: " + message;
  }
  diagnostics.error(problem.code, call.file, call.arg_spans.at(problem.operand), message,
                    problem.hint);
  return false;
}

template <Op op>
ExprRef unary_builtin(const BuiltinCall& call, Diagnostics& diagnostics) {
  if (!check_shapes(op, call, diagnostics)) {
    return nullptr;
  }
  return unary(op, call.args[0], call.call_span);
}

template <Op op>
ExprRef binary_builtin(const BuiltinCall& call, Diagnostics& diagnostics) {
  if (!check_shapes(op, call, diagnostics)) {
    return nullptr;
  }
  return binary(op, call.args[0], call.args[1], call.call_span);
}

template <Op op>
ExprRef stencil_builtin(const BuiltinCall& call, Diagnostics& diagnostics) {
  if (!check_shapes(op, call, diagnostics)) {
    return nullptr;
  }
  return stencil(op, call.args[0], call.call_span);
}

bool all_scalar(const BuiltinCall& call, Diagnostics& diagnostics) {
  for (std::size_t i = 0; i < call.args.size(); ++i) {
    if (call.args[i]->shape != Shape::scalar) {
      diagnostics.error("E020", call.file, call.arg_spans[i],
                        "argument " + std::to_string(i + 1) + " of `" + std::string(call.name) +
                            "` must be a scalar, not a vector",
                        "reduce a vector with norm(v), norm2(v) or dot(v, w)");
      return false;
    }
  }
  return true;
}

ExprRef build_clamp(const BuiltinCall& c, Diagnostics& d) {
  if (!all_scalar(c, d)) {
    return nullptr;
  }
  return binary(Op::min, binary(Op::max, c.args[0], c.args[1], c.call_span), c.args[2],
                c.call_span);
}

ExprRef build_select(const BuiltinCall& c, Diagnostics& d) {
  if (c.args[0]->shape != Shape::scalar) {
    d.error("E020", c.file, c.arg_spans[0], "the condition of `select` must be a scalar");
    return nullptr;
  }
  if (c.args[1]->shape != c.args[2]->shape) {
    d.error("E022", c.file, c.arg_spans[2],
            std::string("the two branches of `select` differ in shape: ") + name(c.args[1]->shape) +
                " and " + name(c.args[2]->shape));
    return nullptr;
  }
  return select(c.args[0], c.args[1], c.args[2], c.call_span);
}

// geometric(a, b, s) = a (b/a)^s
ExprRef build_geometric(const BuiltinCall& c, Diagnostics& d) {
  if (!all_scalar(c, d)) {
    return nullptr;
  }
  const Span s = c.call_span;
  return binary(Op::mul, c.args[0],
                binary(Op::pow, binary(Op::div, c.args[1], c.args[0], s), c.args[2], s), s);
}

// linear(a, b, s) = a + (b - a) s
ExprRef build_linear(const BuiltinCall& c, Diagnostics& d) {
  if (!all_scalar(c, d)) {
    return nullptr;
  }
  const Span s = c.call_span;
  return binary(Op::add, c.args[0],
                binary(Op::mul, binary(Op::sub, c.args[1], c.args[0], s), c.args[2], s), s);
}

// poly(a, b, s, r) = a + (b - a) s^r
ExprRef build_poly(const BuiltinCall& c, Diagnostics& d) {
  if (!all_scalar(c, d)) {
    return nullptr;
  }
  const Span s = c.call_span;
  return binary(Op::add, c.args[0],
                binary(Op::mul, binary(Op::sub, c.args[1], c.args[0], s),
                       binary(Op::pow, c.args[2], c.args[3], s), s),
                s);
}

ExprRef build_vec(const BuiltinCall& c, Diagnostics& d) {
  if (!all_scalar(c, d)) {
    return nullptr;
  }
  return make_vector(c.args[0], c.args[1], c.call_span);
}

ExprRef build_dot(const BuiltinCall& c, Diagnostics& d) {
  if (!check_shapes(Op::dot, c, d)) {
    return nullptr;
  }
  return binary(Op::dot, c.args[0], c.args[1], c.call_span);
}

std::optional<std::int32_t> constant_offset(const BuiltinCall& c, std::size_t i, Diagnostics& d) {
  const ExprRef& a = c.args[i];
  if (!a->is_constant() || a->value != std::trunc(a->value) || std::fabs(a->value) > kMaxShift) {
    d.error("E045", c.file, c.arg_spans[i],
            "the offsets of `shift` must be integer constants between -" +
                std::to_string(kMaxShift) + " and " + std::to_string(kMaxShift),
            "shift(e, di, dj) reads e at the neighbour (i + di, j + dj)");
    return std::nullopt;
  }
  return static_cast<std::int32_t>(a->value);
}

ExprRef build_shift(const BuiltinCall& c, Diagnostics& d) {
  if (!all_scalar(c, d)) {
    return nullptr;
  }
  const auto di = constant_offset(c, 1, d);
  const auto dj = constant_offset(c, 2, d);
  if (!di || !dj) {
    return nullptr;
  }
  return shift(c.args[0], *di, *dj, c.call_span);
}

ExprRef build_ddt(const BuiltinCall& c, Diagnostics& d) {
  return time_derivative(c.args[0], c.arg_spans[0], c.file, d);
}

const std::vector<Builtin> kBuiltins = {
    {"exp", 1, "exp(x)", unary_builtin<Op::exp>},
    {"log", 1, "log(x)", unary_builtin<Op::log>},
    {"sqrt", 1, "sqrt(x)", unary_builtin<Op::sqrt>},
    {"abs", 1, "abs(x)", unary_builtin<Op::abs>},
    {"sin", 1, "sin(x)", unary_builtin<Op::sin>},
    {"cos", 1, "cos(x)", unary_builtin<Op::cos>},
    {"tanh", 1, "tanh(x)", unary_builtin<Op::tanh>},
    {"sigmoid", 1, "sigmoid(x)", unary_builtin<Op::sigmoid>},
    {"pow", 2, "pow(x, y)", binary_builtin<Op::pow>},
    {"min", 2, "min(a, b)", binary_builtin<Op::min>},
    {"max", 2, "max(a, b)", binary_builtin<Op::max>},
    {"clamp", 3, "clamp(v, lo, hi)", build_clamp},
    {"select", 3, "select(c, a, b)", build_select},
    {"geometric", 3, "geometric(a, b, s)", build_geometric},
    {"linear", 3, "linear(a, b, s)", build_linear},
    {"poly", 4, "poly(a, b, s, r)", build_poly},
    {"vec", 2, "vec(a, b)", build_vec},
    {"norm", 1, "norm(v)", unary_builtin<Op::norm>},
    {"norm2", 1, "norm2(v)", unary_builtin<Op::norm2>},
    {"dot", 2, "dot(v, w)", build_dot},
    {"grad", 1, "grad(e)", stencil_builtin<Op::grad>},
    {"div", 1, "div(v)", stencil_builtin<Op::div_>},
    {"lap", 1, "lap(e)", stencil_builtin<Op::lap>},
    {"dx", 1, "dx(e)", stencil_builtin<Op::dx>},
    {"dy", 1, "dy(e)", stencil_builtin<Op::dy>},
    {"sobel", 1, "sobel(e)", stencil_builtin<Op::sobel>},
    {"shift", 3, "shift(e, di, dj)", build_shift},
    {"ddt", 1, "ddt(e)", build_ddt},
};

}  // namespace

const std::vector<Builtin>& builtins() { return kBuiltins; }

const Builtin* find_builtin(std::string_view name) {
  for (const Builtin& b : kBuiltins) {
    if (b.name == name) {
      return &b;
    }
  }
  return nullptr;
}

}  // namespace spdec::lang
