#include "lang/expr.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <iterator>
#include <map>
#include <utility>

#include "lang/diagnostics.hpp"
#include "lang/number.hpp"
#include "lang/ops.hpp"

namespace spdec::lang {

namespace {

Stage stage_of(std::uint8_t reads) {
  if ((reads & (reads_u | reads_u0 | reads_xy | reads_kappa | reads_stencil)) != 0) {
    return Stage::field;
  }
  if ((reads & (reads_t | reads_knots)) != 0) {
    return Stage::time;
  }
  return Stage::constant;
}

ExprRef make(Op op, Shape shape, std::uint8_t reads, Span span, std::vector<ExprRef> args) {
  auto e = std::make_shared<Expr>();
  e->op = op;
  e->shape = shape;
  e->reads = reads;
  e->stage = stage_of(reads);
  e->span = span;
  e->args = std::move(args);
  return e;
}

std::uint8_t reads_of(const std::vector<ExprRef>& args) {
  std::uint8_t reads = reads_none;
  for (const ExprRef& a : args) {
    reads = static_cast<std::uint8_t>(reads | a->reads);
  }
  return reads;
}

ExprRef zero_like(Shape shape, Span span) {
  switch (shape) {
    case Shape::scalar:
      return constant(0.0, span);
    case Shape::vector:
      return make_vector(constant(0.0, span), constant(0.0, span), span);
    case Shape::matrix:
      return make_matrix(constant(0.0, span), constant(0.0, span), constant(0.0, span), span);
  }
  return constant(0.0, span);
}

bool is_vector_of_constants(const ExprRef& e) {
  return e->op == Op::make_vector && e->args[0]->is_constant() && e->args[1]->is_constant();
}

/// Applies a scalar op component-wise to constant vectors (and broadcast
/// scalars), so that e.g. `grad(u) / inf` style folds reach vectors too.
ExprRef fold_vector_binary(Op op, const ExprRef& a, const ExprRef& b, Span span) {
  auto component = [](const ExprRef& e, int i) -> ExprRef {
    return e->shape == Shape::vector ? e->args[static_cast<std::size_t>(i)] : e;
  };
  return make_vector(binary(op, component(a, 0), component(b, 0), span),
                     binary(op, component(a, 1), component(b, 1), span), span);
}

/// Entry k of a matrix (canonical: a make_matrix node) or a scalar broadcast.
ExprRef matrix_entry(const ExprRef& e, std::size_t k) {
  if (e->shape == Shape::scalar) return e;
  if (e->op != Op::make_matrix) internal_error("a matrix that is not a make_matrix node");
  return e->args[k];
}

/// Row i of M·v: M_i0 v_x + M_i1 v_y, with M = [[a, b], [b, c]].
ExprRef matrix_times_vector_row(const ExprRef& m, const ExprRef& v, int i, Span span) {
  const ExprRef& first = m->args[i == 0 ? 0 : 1];
  const ExprRef& second = m->args[i == 0 ? 1 : 2];
  return binary(Op::add, binary(Op::mul, first, vector_component(v, 0, span), span),
                binary(Op::mul, second, vector_component(v, 1, span), span), span);
}

/// Applies `op` entry by entry where the result is a matrix (M ± N, s·M,
/// M·s, M/s), so that every matrix stays a make_matrix node.
ExprRef matrix_entrywise(Op op, const ExprRef& a, const ExprRef& b, Span span) {
  return make_matrix(binary(op, matrix_entry(a, 0), matrix_entry(b, 0), span),
                     binary(op, matrix_entry(a, 1), matrix_entry(b, 1), span),
                     binary(op, matrix_entry(a, 2), matrix_entry(b, 2), span), span);
}

/// The shape of `op` applied to operands of shapes `s` (already checked).
Shape result_shape(Op op, std::initializer_list<Shape> s) {
  const Shape first = s.size() > 0 ? *s.begin() : Shape::scalar;
  const auto has = [&](Shape shape) { return std::ranges::find(s, shape) != s.end(); };
  switch (op_info(op).shape) {
    case ShapeRule::scalars:
    case ShapeRule::vectors_to_scalar:
      return Shape::scalar;
    case ShapeRule::scalars_to_vector:
      return Shape::vector;
    case ShapeRule::scalars_to_matrix:
      return Shape::matrix;
    case ShapeRule::keep:
    case ShapeRule::same:
    case ShapeRule::quotient:
      return first;
    case ShapeRule::product:
      if (has(Shape::vector)) return Shape::vector;  // s·v, v·s, M·v
      return has(Shape::matrix) ? Shape::matrix : Shape::scalar;
    case ShapeRule::branches:
      return s.size() > 1 ? *std::next(s.begin()) : Shape::scalar;
  }
  return Shape::scalar;
}

}  // namespace

const char* name(Shape shape) {
  switch (shape) {
    case Shape::scalar:
      return "scalar";
    case Shape::vector:
      return "vector";
    case Shape::matrix:
      return "matrix";
  }
  return "?";
}

const char* name(Stage stage) {
  switch (stage) {
    case Stage::constant:
      return "constant";
    case Stage::time:
      return "time";
    case Stage::field:
      return "field";
  }
  return "?";
}

// Spellings are string literals, so the view's data is NUL-terminated.
const char* name(Op op) { return op_info(op).spelling.data(); }

bool Expr::is_constant_vector(double v) const {
  if (op != Op::make_vector && op != Op::make_matrix) return false;
  return std::ranges::all_of(args, [v](const ExprRef& a) { return a->is_constant(v); });
}

double apply_scalar(Op op, const double* x) {
  const auto evaluate = op_info(op).evaluate;
  if (evaluate == nullptr) {
    internal_error(std::string("apply_scalar of non-scalar op ") + name(op));
  }
  return evaluate(x);
}

ExprRef constant(double value, Span span) {
  auto e = std::make_shared<Expr>();
  e->op = Op::constant;
  e->value = value;
  e->span = span;
  return e;
}

ExprRef leaf(Op op, Span span) {
  if (op_info(op).kind != OpKind::leaf || op == Op::constant) {
    internal_error(std::string("leaf() of ") + name(op));
  }
  return make(op, Shape::scalar, op_info(op).reads, span, {});
}

ExprRef knots(std::int32_t learnable, ExprRef time, Span span) {
  const auto reads = static_cast<std::uint8_t>(time->reads | reads_knots);
  auto e = std::make_shared<Expr>(*make(Op::knots, Shape::scalar, reads, span, {std::move(time)}));
  e->index = learnable;
  return e;
}

namespace {

ShapeProblem all_scalar(Op op, const std::vector<Shape>& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != Shape::scalar) {
      return {"E020", std::string("`") + name(op) + "` needs a scalar here, not a " + name(s[i]),
              s[i] == Shape::vector
                  ? "reduce a vector with norm(v), norm2(v), dot(v, w), or take dx/dy"
                  : "reduce a matrix with eig1(M) or eig2(M), or apply it to a vector: M * v",
              i};
    }
  }
  return {};
}

ShapeProblem all_vector(Op op, const std::vector<Shape>& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != Shape::vector) {
      std::string hint = "make a vector with grad(e) or vec(a, b)";
      if (op == Op::div_) {
        hint = s[i] == Shape::matrix ? "a tensor flux is div(D * grad(e)), the matrix D applied "
                                       "to the gradient"
                                     : "div takes a vector field, e.g. div(k * grad(u)); "
                                       "lap(e) is div(grad(e))";
      } else if (s[i] == Shape::matrix) {
        hint = "apply the matrix to a vector first: M * v";
      }
      return {"E021", std::string("`") + name(op) + "` needs a vector here, not a " + name(s[i]),
              hint, i};
    }
  }
  return {};
}

/// Why a product of these shapes does not exist (empty when it does).
ShapeProblem product_problem(Shape a, Shape b) {
  if (a == Shape::vector && b == Shape::vector) {
    return {"E022", "cannot multiply two vectors", "use dot(a, b) for the dot product", 1};
  }
  if (a == Shape::matrix && b == Shape::matrix) {
    return {"E022", "cannot multiply two matrices",
            "a matrix multiplies a vector (D * grad(u)) or is scaled by a scalar", 1};
  }
  if (a == Shape::vector && b == Shape::matrix) {
    return {"E022", "a matrix multiplies a vector from the left", "write the matrix first: D * v",
            1};
  }
  return {};
}

}  // namespace

ShapeProblem shape_problem(Op op, const std::vector<Shape>& s) {
  switch (op_info(op).shape) {
    case ShapeRule::same:
      if (s[0] != s[1]) {
        return {"E022",
                std::string("cannot ") + (op == Op::add ? "add" : "subtract") + " a " + name(s[0]) +
                    " and a " + name(s[1]),
                "both sides must have one shape: scalars, vectors or matrices",
                s[0] == Shape::scalar ? 1U : 0U};
      }
      return {};
    case ShapeRule::product:
      return product_problem(s[0], s[1]);
    case ShapeRule::quotient:
      if (s[1] != Shape::scalar) {
        return {"E022", std::string("cannot divide by a ") + name(s[1]),
                "divide by a scalar, e.g. norm(v)", 1};
      }
      return {};
    case ShapeRule::keep:
    case ShapeRule::branches:
      return {};
    case ShapeRule::vectors_to_scalar:
      return all_vector(op, s);
    case ShapeRule::scalars:
    case ShapeRule::scalars_to_vector:
    case ShapeRule::scalars_to_matrix:
      return all_scalar(op, s);
  }
  return {};
}

ExprRef unary(Op op, ExprRef a, Span span) {
  if (!shape_problem(op, {a->shape}).code.empty()) {
    internal_error(std::string("unary ") + name(op) + " on a " + name(a->shape));
  }
  if (a->is_constant()) {
    const double x = a->value;
    return constant(apply_scalar(op, &x), span);
  }
  if (a->shape == Shape::matrix) {  // only neg keeps a matrix: entry by entry
    return make_matrix(unary(op, a->args[0], span), unary(op, a->args[1], span),
                       unary(op, a->args[2], span), span);
  }
  if (is_vector_of_constants(a)) {
    const double x0 = a->args[0]->value;
    const double x1 = a->args[1]->value;
    switch (op) {
      case Op::neg:
        return make_vector(constant(-x0, span), constant(-x1, span), span);
      case Op::norm2:
        return constant(x0 * x0 + x1 * x1, span);
      case Op::norm:
        return constant(std::sqrt(x0 * x0 + x1 * x1), span);
      default:
        break;
    }
  }
  if (op == Op::neg && a->op == Op::neg) {
    return a->args[0];
  }
  const Shape shape = result_shape(op, {a->shape});
  const std::uint8_t reads = a->reads;  // read before `a` is moved from
  return make(op, shape, reads, span, {std::move(a)});
}

ExprRef binary(Op op, ExprRef a, ExprRef b, Span span) {
  if (!shape_problem(op, {a->shape, b->shape}).code.empty()) {
    internal_error(std::string("binary ") + name(op) + " on " + name(a->shape) + ", " +
                   name(b->shape));
  }
  if (a->is_constant() && b->is_constant()) {
    const std::array<double, 2> x = {a->value, b->value};
    return constant(apply_scalar(op, x.data()), span);
  }
  const Shape shape = result_shape(op, {a->shape, b->shape});
  if (shape == Shape::matrix) {
    return matrix_entrywise(op, a, b, span);
  }
  if (op == Op::mul && a->shape == Shape::matrix && is_vector_of_constants(b) &&
      std::ranges::all_of(a->args, [](const ExprRef& x) { return x->is_constant(); })) {
    return make_vector(matrix_times_vector_row(a, b, 0, span),
                       matrix_times_vector_row(a, b, 1, span), span);
  }
  const bool arithmetic = op == Op::add || op == Op::sub || op == Op::mul || op == Op::div;
  if (arithmetic && shape == Shape::vector && (is_vector_of_constants(a) || a->is_constant()) &&
      (is_vector_of_constants(b) || b->is_constant())) {
    return fold_vector_binary(op, a, b, span);
  }
  // Identities exact in IEEE arithmetic for every operand value.
  if ((op == Op::add && b->is_constant(0.0)) || (op == Op::sub && b->is_constant(0.0)) ||
      (op == Op::add && b->is_constant_vector(0.0)) ||
      (op == Op::sub && b->is_constant_vector(0.0)) ||
      ((op == Op::mul || op == Op::div) && b->is_constant(1.0)) ||
      (op == Op::pow && b->is_constant(1.0))) {
    return a;
  }
  if ((op == Op::add && (a->is_constant(0.0) || a->is_constant_vector(0.0))) ||
      (op == Op::mul && a->is_constant(1.0))) {
    return b;
  }
  if (op == Op::sub && (a->is_constant(0.0) || a->is_constant_vector(0.0))) {
    return unary(Op::neg, std::move(b), span);
  }
  if (op == Op::pow && b->is_constant(0.0)) {
    return constant(1.0, span);  // IEEE pow(x, 0) = 1 for every x, NaN included
  }
  // Field values are finite (documented in LANGUAGE.md), so 0·e = 0 and
  // e/±inf = 0 for a field e: this is how λ = inf reaches isotropy.
  if (op == Op::mul && a->stage == Stage::field &&
      (b->is_constant(0.0) || b->is_constant_vector(0.0))) {
    return zero_like(shape, span);
  }
  if (op == Op::mul && b->stage == Stage::field &&
      (a->is_constant(0.0) || a->is_constant_vector(0.0))) {
    return zero_like(shape, span);
  }
  if (op == Op::div && a->stage == Stage::field && b->is_constant() && std::isinf(b->value)) {
    return zero_like(shape, span);
  }
  if (op == Op::dot && (a->is_constant_vector(0.0) || b->is_constant_vector(0.0)) &&
      a->stage != Stage::time && b->stage != Stage::time) {
    return constant(0.0, span);
  }
  if (op == Op::dot && is_vector_of_constants(a) && is_vector_of_constants(b)) {
    return constant(a->args[0]->value * b->args[0]->value + a->args[1]->value * b->args[1]->value,
                    span);
  }
  const auto reads = static_cast<std::uint8_t>(a->reads | b->reads);  // before the moves
  return make(op, shape, reads, span, {std::move(a), std::move(b)});
}

ExprRef select(ExprRef c, ExprRef a, ExprRef b, Span span) {
  if (c->shape != Shape::scalar || a->shape != b->shape) {
    internal_error("select with bad shapes");
  }
  if (c->is_constant()) {
    return c->value != 0.0 ? a : b;
  }
  if (equal(a, b)) {
    return a;
  }
  if (a->shape == Shape::matrix) {
    return make_matrix(select(c, a->args[0], b->args[0], span),
                       select(c, a->args[1], b->args[1], span),
                       select(c, a->args[2], b->args[2], span), span);
  }
  const Shape shape = a->shape;
  const auto reads = reads_of({c, a, b});
  return make(Op::select, shape, reads, span, {std::move(c), std::move(a), std::move(b)});
}

ExprRef make_vector(ExprRef a, ExprRef b, Span span) {
  if (a->shape != Shape::scalar || b->shape != Shape::scalar) {
    internal_error("make_vector of vectors");
  }
  const auto reads = static_cast<std::uint8_t>(a->reads | b->reads);
  return make(Op::make_vector, Shape::vector, reads, span, {std::move(a), std::move(b)});
}

ExprRef make_matrix(ExprRef a, ExprRef b, ExprRef c, Span span) {
  if (a->shape != Shape::scalar || b->shape != Shape::scalar || c->shape != Shape::scalar) {
    internal_error("make_matrix of non-scalars");
  }
  const auto reads = reads_of({a, b, c});
  return make(Op::make_matrix, Shape::matrix, reads, span,
              {std::move(a), std::move(b), std::move(c)});
}

ExprRef gauss(ExprRef e, double sigma, Span span) {
  if (e->shape != Shape::scalar) {
    internal_error("gauss of a non-scalar");
  }
  // Normalised weights: a value that does not vary in space is unchanged.
  if (e->stage != Stage::field || sigma == 0.0) {
    return e;
  }
  const auto reads = static_cast<std::uint8_t>(e->reads | reads_stencil);
  return make(Op::gauss, Shape::scalar, reads, span, {std::move(e), constant(sigma, span)});
}

ExprRef vector_component(const ExprRef& v, int i, Span span) {
  if (v->shape != Shape::vector) {
    internal_error("vector_component of a non-vector");
  }
  const auto k = static_cast<std::size_t>(i);
  const auto part = [&](const ExprRef& x) {
    return x->shape == Shape::vector ? vector_component(x, i, span) : x;
  };
  switch (v->op) {
    case Op::make_vector:
      return v->args[k];
    case Op::grad:
      return stencil(i == 0 ? Op::dx : Op::dy, v->args[0], span);
    case Op::sobel: {
      // Sx = Σ_dj w(dj) (e[i+1, j+dj] − e[i−1, j+dj]), w = 1, 2, 1 (§13.5); Sy likewise.
      const ExprRef& e = v->args[0];
      ExprRef sum = constant(0.0, span);
      for (std::int32_t across = -1; across <= 1; ++across) {
        const double weight = across == 0 ? 2.0 : 1.0;
        const ExprRef plus = i == 0 ? shift(e, 1, across, span) : shift(e, across, 1, span);
        const ExprRef minus = i == 0 ? shift(e, -1, across, span) : shift(e, across, -1, span);
        sum = binary(
            Op::add, sum,
            binary(Op::mul, constant(weight, span), binary(Op::sub, plus, minus, span), span),
            span);
      }
      return sum;
    }
    case Op::mul:
      if (v->args[0]->shape == Shape::matrix) {
        return matrix_times_vector_row(v->args[0], v->args[1], i, span);
      }
      return binary(Op::mul, part(v->args[0]), part(v->args[1]), span);
    case Op::neg:
      return unary(Op::neg, part(v->args[0]), span);
    case Op::add:
    case Op::sub:
    case Op::div:
      return binary(v->op, part(v->args[0]), part(v->args[1]), span);
    case Op::select:
      return select(v->args[0], part(v->args[1]), part(v->args[2]), span);
    default:
      internal_error(std::string("vector_component of ") + name(v->op));
  }
}

ExprRef stencil(Op op, ExprRef a, Span span) {
  const Shape shape = result_shape(op, {a->shape});
  // Differences of something that does not vary in space are zero.
  if (a->stage != Stage::field) {
    return zero_like(shape, span);
  }
  const auto reads = static_cast<std::uint8_t>(a->reads | reads_stencil);
  return make(op, shape, reads, span, {std::move(a)});
}

ExprRef shift(ExprRef a, std::int32_t di, std::int32_t dj, Span span) {
  if (a->stage != Stage::field || (di == 0 && dj == 0)) {
    return a;
  }
  auto e = std::make_shared<Expr>(
      *make(Op::shift, a->shape, static_cast<std::uint8_t>(a->reads | reads_stencil), span, {a}));
  e->index = di;
  e->index2 = dj;
  return e;
}

bool equal(const ExprRef& a, const ExprRef& b) {
  if (a == b) {
    return true;
  }
  if (!a || !b || a->op != b->op || a->shape != b->shape || a->index != b->index ||
      a->index2 != b->index2 || a->args.size() != b->args.size()) {
    return false;
  }
  if (a->op == Op::constant &&
      !(a->value == b->value || (std::isnan(a->value) && std::isnan(b->value)))) {
    return false;
  }
  for (std::size_t i = 0; i < a->args.size(); ++i) {
    if (!equal(a->args[i], b->args[i])) {
      return false;
    }
  }
  return true;
}

namespace {

/// Infix printing; a node in `names` prints as its name (to_string_shared).
class Printer {
 public:
  explicit Printer(const std::map<const Expr*, std::string>* names = nullptr) : names_(names) {}

  std::string print(const ExprRef& e, bool top = true) const {
    if (names_ != nullptr && !top) {
      if (const auto found = names_->find(e.get()); found != names_->end()) return found->second;
    }
    switch (e->op) {
      case Op::constant:
        return number_text(e->value);
      case Op::knots:
        return "knots#" + std::to_string(e->index) + "(" + print(e->args[0], false) + ")";
      case Op::shift:
        return "shift(" + print(e->args[0], false) + ", " + std::to_string(e->index) + ", " +
               std::to_string(e->index2) + ")";
      default:
        break;
    }
    switch (op_info(e->op).notation) {
      case Notation::leaf:
        return name(e->op);
      case Notation::prefix:
        return std::string(name(e->op)) + "(" + print(e->args[0], false) + ")";
      case Notation::infix:
        return "(" + print(e->args[0], false) + " " + name(e->op) + " " + print(e->args[1], false) +
               ")";
      case Notation::call:
        break;
    }
    std::string out = std::string(name(e->op)) + "(";
    for (std::size_t i = 0; i < e->args.size(); ++i) {
      out += (i > 0 ? ", " : "") + print(e->args[i], false);
    }
    return out + ")";
  }

 private:
  const std::map<const Expr*, std::string>* names_;
};

/// How many times each node of the DAG under e is an operand (e: 1), and
/// the nodes in post-order (operands first), each once.
void count_uses(const ExprRef& e, std::map<const Expr*, std::size_t>& uses,
                std::vector<ExprRef>& order) {
  if (uses[e.get()]++ > 0) return;
  for (const ExprRef& a : e->args) count_uses(a, uses, order);
  order.push_back(e);
}

}  // namespace

std::string to_string(const ExprRef& e) { return Printer().print(e); }

std::string to_string_shared(const ExprRef& e) {
  // Below this many terms (as a tree) the plain text is short enough; every
  // process written by hand so far prints unchanged.
  constexpr std::size_t kPlainTerms = 400;
  // A shared subexpression smaller than this is cheaper to repeat than to name.
  constexpr std::size_t kNamedTerms = 12;
  if (tree_size(e, kPlainTerms) < kPlainTerms) return to_string(e);
  std::map<const Expr*, std::size_t> uses;
  std::vector<ExprRef> order;
  count_uses(e, uses, order);
  // Operands first, so a definition's text already uses the names of what it
  // shares; equal texts (the same function inlined twice) share one name.
  std::map<const Expr*, std::string> names;
  std::map<std::string, std::string> defined;
  std::string definitions;
  const Printer printer(&names);
  for (const ExprRef& node : order) {
    if (node == e || uses[node.get()] < 2 || tree_size(node, kNamedTerms) < kNamedTerms) continue;
    const std::string text = printer.print(node);
    const auto [found, added] = defined.emplace(text, "$" + std::to_string(defined.size() + 1));
    names.emplace(node.get(), found->second);
    if (added)
      definitions += (definitions.empty() ? " where " : ", ") + found->second + " = " + text;
  }
  return printer.print(e) + definitions;
}

ExprRef make_operation(Op op, std::vector<ExprRef> args, Span span) {
  const OpInfo& row = op_info(op);
  if (args.size() != row.arity || row.kind == OpKind::leaf || op == Op::knots || op == Op::shift) {
    internal_error(std::string("make_operation of ") + name(op));
  }
  if (op == Op::select) {
    return select(std::move(args[0]), std::move(args[1]), std::move(args[2]), span);
  }
  if (op == Op::make_vector) {
    return make_vector(std::move(args[0]), std::move(args[1]), span);
  }
  if (op == Op::make_matrix) {
    return make_matrix(std::move(args[0]), std::move(args[1]), std::move(args[2]), span);
  }
  if (op == Op::gauss) {
    return gauss(std::move(args[0]), args[1]->value, span);
  }
  if (row.kind == OpKind::stencil) {
    return stencil(op, std::move(args[0]), span);
  }
  if (row.arity == 1) {
    return unary(op, std::move(args[0]), span);
  }
  return binary(op, std::move(args[0]), std::move(args[1]), span);
}

ExprRef with_args(const Expr& e, std::vector<ExprRef> args) {
  if (op_info(e.op).kind == OpKind::leaf) {
    return std::make_shared<Expr>(e);
  }
  if (e.op == Op::knots) {
    return knots(e.index, args.at(0), e.span);
  }
  if (e.op == Op::shift) {
    return shift(args.at(0), e.index, e.index2, e.span);
  }
  return make_operation(e.op, std::move(args), e.span);
}

namespace {

ExprRef substitute(const ExprRef& e, const ExprRef& value, std::map<const Expr*, ExprRef>& memo) {
  if ((e->reads & reads_t) == 0) {
    return e;
  }
  if (e->op == Op::time) {
    return value;
  }
  if (auto it = memo.find(e.get()); it != memo.end()) {
    return it->second;  // shared subtrees stay shared
  }
  std::vector<ExprRef> args;
  args.reserve(e->args.size());
  for (const ExprRef& a : e->args) {
    args.push_back(substitute(a, value, memo));
  }
  ExprRef out = with_args(*e, std::move(args));
  memo.emplace(e.get(), out);
  return out;
}

}  // namespace

ExprRef substitute_time(const ExprRef& e, const ExprRef& value) {
  if (value->op == Op::time) {
    return e;
  }
  std::map<const Expr*, ExprRef> memo;
  return substitute(e, value, memo);
}

const Expr& first_reading(const ExprRef& e, std::uint8_t mask) {
  for (const ExprRef& a : e->args) {
    if ((a->reads & mask) != 0) {
      return first_reading(a, mask);
    }
  }
  return *e;
}

std::size_t tree_size(const ExprRef& e, std::size_t limit) {
  std::size_t size = 1;
  for (const ExprRef& a : e->args) {
    if (size >= limit) {
      return limit;
    }
    size += tree_size(a, limit - size);
  }
  return std::min(size, limit);
}

}  // namespace spdec::lang
