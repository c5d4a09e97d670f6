#include "lang/builtins.hpp"

#include <cmath>
#include <optional>
#include <utility>

#include "lang/ddt.hpp"
#include "lang/tensor.hpp"

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

/// E020 unless argument i is a scalar.
bool scalar_argument(const BuiltinCall& call, std::size_t i, Diagnostics& diagnostics) {
  const Shape shape = call.args[i]->shape;
  if (shape == Shape::scalar) {
    return true;
  }
  diagnostics.error("E020", call.file, call.arg_spans[i],
                    "argument " + std::to_string(i + 1) + " of `" + std::string(call.name) +
                        "` must be a scalar, not a " + name(shape),
                    shape == Shape::vector ? "reduce a vector with norm(v), norm2(v) or dot(v, w)"
                                           : "reduce a matrix with eig1(M) or eig2(M)");
  return false;
}

bool all_scalar(const BuiltinCall& call, Diagnostics& diagnostics) {
  for (std::size_t i = 0; i < call.args.size(); ++i) {
    if (!scalar_argument(call, i, diagnostics)) {
      return false;
    }
  }
  return true;
}

/// E021 unless argument i has the shape `wanted` (a vector or a matrix).
bool argument_of_shape(const BuiltinCall& call, std::size_t i, Shape wanted, const char* hint,
                       Diagnostics& diagnostics) {
  const Shape shape = call.args[i]->shape;
  if (shape == wanted) {
    return true;
  }
  diagnostics.error("E021", call.file, call.arg_spans[i],
                    "argument " + std::to_string(i + 1) + " of `" + std::string(call.name) +
                        "` must be a " + name(wanted) + ", not a " + name(shape),
                    hint);
  return false;
}

constexpr const char* kMatrixHint =
    "build a matrix with mat(a, b, c) for [[a, b], [b, c]], structure(u, sigma, rho) or "
    "eigmat(v, l1, l2)";

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

// mat(a, b, c) = [[a, b], [b, c]]; mat(a, b, c, d) = [[a, b], [c, d]] when
// b and c are the same expression (diffusion tensors are symmetric, and the
// stencil of §13.6 is defined for symmetric ones only).
ExprRef build_mat(const BuiltinCall& c, Diagnostics& d) {
  if (!all_scalar(c, d)) {
    return nullptr;
  }
  if (c.args.size() == 4) {
    if (!equal(c.args[1], c.args[2])) {
      d.error("E023", c.file, c.arg_spans[2],
              "the matrix is not symmetric: its entries (1, 2) and (2, 1) differ",
              "diffusion tensors are symmetric: write mat(a, b, c) for [[a, b], [b, c]]");
      return nullptr;
    }
    return make_matrix(c.args[0], c.args[1], c.args[3], c.call_span);
  }
  return make_matrix(c.args[0], c.args[1], c.args[2], c.call_span);
}

template <bool largest>
ExprRef build_eigenvalue(const BuiltinCall& c, Diagnostics& d) {
  if (!argument_of_shape(c, 0, Shape::matrix, kMatrixHint, d)) {
    return nullptr;
  }
  return eigenvalue(c.args[0], largest, c.call_span);
}

template <bool leading>
ExprRef build_eigenvector(const BuiltinCall& c, Diagnostics& d) {
  if (!argument_of_shape(c, 0, Shape::matrix, kMatrixHint, d)) {
    return nullptr;
  }
  return eigenvector(c.args[0], leading, c.call_span);
}

// eigmat(v, l1, l2): eigenvalue l1 along v, l2 across it.
ExprRef build_eigmat(const BuiltinCall& c, Diagnostics& d) {
  if (!argument_of_shape(c, 0, Shape::vector, "the direction is a vector, e.g. grad(u)", d) ||
      !scalar_argument(c, 1, d) || !scalar_argument(c, 2, d)) {
    return nullptr;
  }
  return matrix_from_eigen(c.args[0], c.args[1], c.args[2], c.call_span);
}

/// The constant Gaussian scale in argument i, or E045.
std::optional<double> gauss_scale(const BuiltinCall& c, std::size_t i, const std::string& what,
                                  Diagnostics& d) {
  const ExprRef& a = c.args[i];
  if (!a->is_constant() || !valid_gauss_scale(a->value)) {
    d.error("E045", c.file, c.arg_spans[i],
            what + " must be a constant between 0 and " + std::to_string(kMaxGaussRadius) + "/3",
            "the smoothing is truncated at ceil(3 * scale) pixels, at most " +
                std::to_string(kMaxGaussRadius) + "; a scale of 0 smooths nothing");
    return std::nullopt;
  }
  return a->value;
}

ExprRef build_gauss(const BuiltinCall& c, Diagnostics& d) {
  if (!scalar_argument(c, 0, d) || !scalar_argument(c, 1, d)) {
    return nullptr;
  }
  const auto sigma = gauss_scale(c, 1, "the scale of `gauss`", d);
  return sigma ? gauss(c.args[0], *sigma, c.call_span) : nullptr;
}

// structure(e, sigma, rho) = J_rho(grad e_sigma).
ExprRef build_structure(const BuiltinCall& c, Diagnostics& d) {
  if (!all_scalar(c, d)) {
    return nullptr;
  }
  const auto sigma = gauss_scale(c, 1, "the pre-smoothing scale `sigma` of `structure`", d);
  const auto rho = gauss_scale(c, 2, "the integration scale `rho` of `structure`", d);
  if (!sigma || !rho) {
    return nullptr;
  }
  return structure_tensor(c.args[0], *sigma, *rho, c.call_span);
}

// divxy(kx, ky, e) = div(mat(kx, 0, ky) * grad(e)): kx on the x-faces, ky on
// the y-faces, a compact three-point second difference per axis (§13.6).
ExprRef build_divxy(const BuiltinCall& c, Diagnostics& d) {
  if (!all_scalar(c, d)) {
    return nullptr;
  }
  const Span s = c.call_span;
  const ExprRef conductances = make_matrix(c.args[0], constant(0.0, s), c.args[1], s);
  return stencil(Op::div_, binary(Op::mul, conductances, stencil(Op::grad, c.args[2], s), s), s);
}

ExprRef build_ddt(const BuiltinCall& c, Diagnostics& d) {
  return time_derivative(c.args[0], c.arg_spans[0], c.file, d);
}

const std::vector<Builtin> kBuiltins = {
    {"exp", 1, 1, "exp(x)", unary_builtin<Op::exp>},
    {"log", 1, 1, "log(x)", unary_builtin<Op::log>},
    {"sqrt", 1, 1, "sqrt(x)", unary_builtin<Op::sqrt>},
    {"abs", 1, 1, "abs(x)", unary_builtin<Op::abs>},
    {"sin", 1, 1, "sin(x)", unary_builtin<Op::sin>},
    {"cos", 1, 1, "cos(x)", unary_builtin<Op::cos>},
    {"tanh", 1, 1, "tanh(x)", unary_builtin<Op::tanh>},
    {"sigmoid", 1, 1, "sigmoid(x)", unary_builtin<Op::sigmoid>},
    {"pow", 2, 2, "pow(x, y)", binary_builtin<Op::pow>},
    {"min", 2, 2, "min(a, b)", binary_builtin<Op::min>},
    {"max", 2, 2, "max(a, b)", binary_builtin<Op::max>},
    {"clamp", 3, 3, "clamp(v, lo, hi)", build_clamp},
    {"select", 3, 3, "select(c, a, b)", build_select},
    {"geometric", 3, 3, "geometric(a, b, s)", build_geometric},
    {"linear", 3, 3, "linear(a, b, s)", build_linear},
    {"poly", 4, 4, "poly(a, b, s, r)", build_poly},
    {"vec", 2, 2, "vec(a, b)", build_vec},
    {"norm", 1, 1, "norm(v)", unary_builtin<Op::norm>},
    {"norm2", 1, 1, "norm2(v)", unary_builtin<Op::norm2>},
    {"dot", 2, 2, "dot(v, w)", build_dot},
    {"grad", 1, 1, "grad(e)", stencil_builtin<Op::grad>},
    {"div", 1, 1, "div(v)", stencil_builtin<Op::div_>},
    {"lap", 1, 1, "lap(e)", stencil_builtin<Op::lap>},
    {"dx", 1, 1, "dx(e)", stencil_builtin<Op::dx>},
    {"dy", 1, 1, "dy(e)", stencil_builtin<Op::dy>},
    {"sobel", 1, 1, "sobel(e)", stencil_builtin<Op::sobel>},
    {"shift", 3, 3, "shift(e, di, dj)", build_shift},
    {"mat", 3, 4, "mat(a, b, c)", build_mat},
    {"eig1", 1, 1, "eig1(M)", build_eigenvalue<true>},
    {"eig2", 1, 1, "eig2(M)", build_eigenvalue<false>},
    {"evec1", 1, 1, "evec1(M)", build_eigenvector<true>},
    {"evec2", 1, 1, "evec2(M)", build_eigenvector<false>},
    {"eigmat", 3, 3, "eigmat(v, l1, l2)", build_eigmat},
    {"gauss", 2, 2, "gauss(e, sigma)", build_gauss},
    {"structure", 3, 3, "structure(e, sigma, rho)", build_structure},
    {"divxy", 3, 3, "divxy(kx, ky, e)", build_divxy},
    {"ddt", 1, 1, "ddt(e)", build_ddt},
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
