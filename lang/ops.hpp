// The table of lang::Op: one row per operation of checked expressions, with
// every per-operation fact that more than one part of spdec needs — its
// identifier and spelling, arity, how it prints, its shape rule, how it
// evaluates in IEEE double, how the C++ and CUDA emitters spell it, and its
// derivative rule. Code that does genuinely structural work per operation
// (lowering stencils, classifying drifts) keeps its own switch; a fact that
// is only looked up lives here, once.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lang/ast.hpp"
#include "lang/expr.hpp"

namespace spdec::lang {

/// What an operation is, for code that treats a whole group alike.
enum class OpKind : std::uint8_t {
  leaf,      ///< no operands: constant, t, u, u0, x, y, kappa
  scalar,    ///< IEEE operation of scalars (component-wise on vectors where its
             ///< shape rule allows): what codegen's IR `apply` nodes hold
  vector,    ///< builds or reduces 2-vectors and matrices: vec, norm, norm2, dot, mat
  stencil,   ///< reads neighbours: grad, div, lap, dx, dy, sobel, gauss, shift
  schedule,  ///< knots: a learnable schedule at a time
};

/// Which operand shapes an operation accepts and the shape it gives.
enum class ShapeRule : std::uint8_t {
  scalars,            ///< scalars → scalar
  scalars_to_vector,  ///< scalars → vector (vec, grad, sobel)
  scalars_to_matrix,  ///< scalars → matrix (mat)
  vectors_to_scalar,  ///< vectors → scalar (norm, norm2, dot, div)
  keep,               ///< any shape → the same shape (unary minus)
  same,               ///< two operands of one shape → that shape (+, -)
  product,            ///< scalar·any, any·scalar, matrix·vector; the non-scalar's shape,
                      ///< a vector for matrix·vector (*)
  quotient,           ///< a scalar denominator; the numerator's shape (/)
  branches,           ///< select: a scalar condition, branches of one shape → it
};

/// How to_string prints an operation.
enum class Notation : std::uint8_t {
  leaf,    ///< its spelling (constants print their value)
  prefix,  ///< `-(a)`, `!(a)`
  infix,   ///< `(a + b)`
  call,    ///< `exp(a)`, `min(a, b)`
};

/// Binding strength in the language, loosest first (LANGUAGE.md §5.1).
enum class Precedence : std::uint8_t {
  logical_or = 1,
  logical_and = 2,
  comparison = 3,
  sum = 4,
  product = 5,
  unary = 6,
  power = 7,
  primary = 8,  ///< calls and leaves: never parenthesised
};

struct OpInfo {
  Op op = Op::constant;
  /// Unique identifier: lookups, derivative rules, tests. The enumerator's
  /// name, except `divergence` for Op::div_ (whose spelling is `div`).
  std::string_view id;
  /// How messages, `spdec check --emit checked` and `--emit ir` print it;
  /// the language's own spelling where it has one (`+`, `exp`, `div`).
  /// A string literal, so `.data()` is NUL-terminated.
  std::string_view spelling;
  OpKind kind = OpKind::leaf;
  std::uint8_t arity = 0;
  Notation notation = Notation::call;
  Precedence precedence = Precedence::primary;
  ShapeRule shape = ShapeRule::scalars;
  bool commutative = false;         ///< codegen orders the operands canonically (more sharing)
  std::uint8_t reads = reads_none;  ///< leaves: what reading one means (Reads bits)
  std::uint8_t space_order = 0;     ///< stencils: the order of the derivative in space
  /// OpKind::scalar: the value in IEEE double of operands x[0..arity).
  double (*evaluate)(const double* x) = nullptr;
  /// OpKind::scalar: the C/CUDA float expression, with $0..$2 the operands'
  /// text and @ the target's math prefix (`__builtin_` or nothing).
  std::string_view c_form;
  /// The derivative rule, a small expression in the table's identifiers over
  /// x0..x2 (the operands), dx0..dx2 (their derivatives), f (this operation's
  /// value) and numbers; empty: no symbolic derivative (leaves, whose
  /// derivative is the differentiator's business, stencils, knots).
  std::string_view derivative;
  /// pow: the rule when operand 1 is a number (no log of the base, so
  /// `x^2` differentiates at x ≤ 0 too).
  std::string_view derivative_x1_number;
};

/// One more than the last enumerator of Op (Op::shift stays last).
inline constexpr std::size_t kOpCount = static_cast<std::size_t>(Op::shift) + 1;

[[nodiscard]] const OpInfo& op_info(Op op);
[[nodiscard]] std::span<const OpInfo> all_ops();
[[nodiscard]] std::optional<Op> op_with_id(std::string_view id);
/// The operation the language spells this way with this many operands
/// (`-` with 1 is neg, with 2 sub).
[[nodiscard]] std::optional<Op> op_with_spelling(std::string_view spelling, std::size_t arity);

/// The operation a binary operator of the syntax tree denotes (its spelling
/// and precedence are the table's).
[[nodiscard]] Op operation_of(ast::BinaryOp op);

/// The C/CUDA text of a scalar operation applied to `operands`.
[[nodiscard]] std::string c_expression(Op op, std::span<const std::string> operands,
                                       std::string_view math_prefix);

/// A derivative rule, parsed: nodes in post-order (operands before their
/// users), the last one the result.
struct RuleNode {
  enum class Kind : std::uint8_t { operand, derivative, value, number, apply };
  Kind kind = Kind::number;
  std::uint8_t index = 0;  ///< operand / derivative: which operand
  double number = 0;
  Op op = Op::constant;           ///< apply
  std::vector<std::size_t> args;  ///< apply: indices of earlier nodes
};
using DerivativeRule = std::vector<RuleNode>;

/// The parsed rule of `op` (the x1-is-a-number variant when that applies
/// and exists); null when the operation has none. Parsed once.
[[nodiscard]] const DerivativeRule* derivative_rule(Op op, bool x1_is_number);

/// Parses rule text (exposed for the table's tests); internal_error on a
/// malformed rule.
[[nodiscard]] DerivativeRule parse_derivative_rule(std::string_view text);

}  // namespace spdec::lang
