// Checked expressions: names resolved, user functions and schedules inlined,
// every node with a shape, a stage and the leaves it reads; constants folded
// in IEEE double. This is what codegen lowers and what the host evaluates.
//
// Nodes are immutable and shared (a DAG); build them only through the
// constructors below, which infer shape and stage and fold.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lang/source.hpp"

namespace spdec::lang {

/// matrix: a symmetric 2×2 matrix [[a, b], [b, c]] (LANGUAGE.md §8.1); every
/// matrix-valued expression is a `make_matrix` node (the constructors below
/// fold the others into one), so its entries are always at hand.
enum class Shape : std::uint8_t { scalar, vector, matrix };
/// constant: folded now; time: host, double, once per step; field: per pixel.
enum class Stage : std::uint8_t { constant, time, field };

[[nodiscard]] const char* name(Shape shape);
[[nodiscard]] const char* name(Stage stage);

enum class Op : std::uint8_t {
  // leaves
  constant,  ///< `value`
  time,      ///< t
  field_u,   ///< the state
  field_u0,  ///< the initial state
  coord_x,   ///< pixel column
  coord_y,   ///< pixel row
  kappa,     ///< Laplacian eigenvalue, inside a noise filter
  knots,     ///< learnable schedule `index` at time args[0] (log-linear interpolation)
  // arithmetic and logic (scalar unless noted)
  neg,  ///< scalar or vector
  logical_not,
  add,  ///< same shapes
  sub,  ///< same shapes
  mul,  ///< scalar*scalar, scalar*vector, vector*scalar, scalar*matrix, matrix*vector
  div,  ///< scalar or vector over scalar
  pow,
  lt,
  le,
  gt,
  ge,
  eq,
  ne,
  logical_and,
  logical_or,
  select,  ///< select(c, a, b), a and b of one shape
  // scalar functions
  exp,
  log,
  sqrt,
  abs,
  sin,
  cos,
  tanh,
  sigmoid,
  min,
  max,
  // vectors
  make_vector,  ///< vec(a, b)
  norm,
  norm2,
  dot,
  make_matrix,  ///< mat(a, b, c) = [[a, b], [b, c]]
  // stencils (field stage)
  grad,   ///< scalar -> vector, node gradient
  div_,   ///< vector -> scalar; div(k * grad(e)) is lowered in flux form
  lap,    ///< five-point Laplacian
  dx,     ///< x component of grad
  dy,     ///< y component of grad
  sobel,  ///< scalar -> vector, Sobel gradient
  gauss,  ///< gauss(e, sigma): separable Gaussian smoothing; args[1] the constant sigma
  shift,  ///< e at (i + di, j + dj): `index` = di, `index2` = dj (stays last: kOpCount)
};

[[nodiscard]] const char* name(Op op);

/// What an expression reads, as a bit set.
enum Reads : std::uint8_t {
  reads_none = 0,
  reads_t = 1U << 0U,
  reads_knots = 1U << 1U,
  reads_u = 1U << 2U,
  reads_u0 = 1U << 3U,
  reads_xy = 1U << 4U,
  reads_kappa = 1U << 5U,
  reads_stencil = 1U << 6U,  ///< contains a neighbour access (grad, lap, ...)
};

struct Expr;
using ExprRef = std::shared_ptr<const Expr>;

struct Expr {
  Op op = Op::constant;
  Shape shape = Shape::scalar;
  Stage stage = Stage::constant;
  std::uint8_t reads = reads_none;
  double value = 0;         ///< Op::constant
  std::int32_t index = 0;   ///< Op::knots (learnable index), Op::shift (di)
  std::int32_t index2 = 0;  ///< Op::shift (dj)
  Span span;                ///< the source text it came from
  std::vector<ExprRef> args;

  [[nodiscard]] bool is_constant() const { return op == Op::constant; }
  [[nodiscard]] bool is_constant(double v) const { return op == Op::constant && value == v; }
  /// A vector (or matrix) whose components are all the constant v.
  [[nodiscard]] bool is_constant_vector(double v) const;
};

/// Structural equality (ignores spans).
[[nodiscard]] bool equal(const ExprRef& a, const ExprRef& b);
/// Infix rendering, for messages and `spdec check --emit checked`.
[[nodiscard]] std::string to_string(const ExprRef& e);
/// The same, but an expression of many terms (hundreds, as a tree) prints
/// each substantial subexpression it shares (a structure tensor read by
/// several eigen helpers) once: `ROOT where $1 = ..., $2 = ...`, names
/// defined after the names they use. Small expressions print as to_string.
[[nodiscard]] std::string to_string_shared(const ExprRef& e);
/// Number of nodes counted as a tree (shared subtrees counted each time),
/// saturating at `limit`.
[[nodiscard]] std::size_t tree_size(const ExprRef& e, std::size_t limit);

// --- constructors (infer shape/stage, fold constants) ------------------------
// Shape errors are the caller's to report: these constructors require valid
// shapes (internal_error otherwise). See shape_error() for the check.

[[nodiscard]] ExprRef constant(double value, Span span = {});
[[nodiscard]] ExprRef leaf(Op op, Span span = {});
[[nodiscard]] ExprRef knots(std::int32_t learnable, ExprRef time, Span span);
[[nodiscard]] ExprRef unary(Op op, ExprRef a, Span span);
[[nodiscard]] ExprRef binary(Op op, ExprRef a, ExprRef b, Span span);
[[nodiscard]] ExprRef select(ExprRef c, ExprRef a, ExprRef b, Span span);
[[nodiscard]] ExprRef make_vector(ExprRef a, ExprRef b, Span span);
/// [[a, b], [b, c]]; a, b, c scalars.
[[nodiscard]] ExprRef make_matrix(ExprRef a, ExprRef b, ExprRef c, Span span);
/// gauss(e, sigma) with sigma a checked constant (lang/tensor.hpp): e itself
/// when e does not vary in space (the weights sum to 1) or sigma is 0.
[[nodiscard]] ExprRef gauss(ExprRef e, double sigma, Span span);
/// Component i (0: x, 1: y) of a vector expression, as a scalar expression
/// (grad(e) gives dx(e), M * v a row of M times v, ...).
[[nodiscard]] ExprRef vector_component(const ExprRef& v, int i, Span span);
[[nodiscard]] ExprRef stencil(Op op, ExprRef a, Span span);
[[nodiscard]] ExprRef shift(ExprRef a, std::int32_t di, std::int32_t dj, Span span);

/// Why `op` cannot take operands of these shapes (empty when it can), with
/// which operand is at fault (0-based) for the caret.
struct ShapeProblem {
  std::string code;  ///< E020 / E021 / E022
  std::string message;
  std::string hint;
  std::size_t operand = 0;
};
[[nodiscard]] ShapeProblem shape_problem(Op op, const std::vector<Shape>& operands);

/// Any operation of Op that needs nothing but its operands (not leaves,
/// knots or shift), through the constructor above that builds it.
[[nodiscard]] ExprRef make_operation(Op op, std::vector<ExprRef> args, Span span);
/// The same operation with new operands (re-folded by the constructors).
[[nodiscard]] ExprRef with_args(const Expr& e, std::vector<ExprRef> args);
/// e with every `t` replaced by `value`: how a schedule, elaborated once in
/// terms of its own variable (so that ddt in its body differentiates with
/// respect to it), is applied to an argument.
[[nodiscard]] ExprRef substitute_time(const ExprRef& e, const ExprRef& value);

/// The innermost, leftmost sub-expression that reads any of `mask` (for a
/// caret under the offending term), or `e` itself when none is narrower.
[[nodiscard]] const Expr& first_reading(const ExprRef& e, std::uint8_t mask);

/// Evaluates a scalar IEEE operation (used by folding and the host evaluator).
[[nodiscard]] double apply_scalar(Op op, const double* x);

}  // namespace spdec::lang
