// The syntax tree of a `.spde` file, as written (before name resolution).
//
// Every node and identifier carries its Span. Parentheses are not kept: the
// formatter re-derives them from precedence, so `fmt` is canonical and
// parse(fmt(x)) == parse(x) up to spans (see ast::same_structure).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "lang/source.hpp"

namespace spdec::lang::ast {

struct Identifier {
  std::string name;
  Span span;
};

enum class UnaryOp { negate, plus, logical_not };
enum class BinaryOp { logical_or, logical_and, eq, ne, lt, le, gt, ge, add, sub, mul, div, pow };

[[nodiscard]] const char* spelling(UnaryOp op);
[[nodiscard]] const char* spelling(BinaryOp op);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Number {
  std::string text;  ///< as written, so the formatter keeps `1e-3` as `1e-3`
  double value = 0;
};
struct NameRef {
  std::string name;
};
struct Call {
  Identifier callee;
  std::vector<ExprPtr> args;
};
struct Unary {
  UnaryOp op;
  ExprPtr operand;
};
struct Binary {
  BinaryOp op;
  ExprPtr lhs;
  ExprPtr rhs;
};

struct Expr {
  Span span;
  std::uint32_t depth = 1;  ///< height of this subtree (bounded by the parser)
  std::variant<Number, NameRef, Call, Unary, Binary> node;
};

// --- statements -------------------------------------------------------------

struct ProcessDecl {
  Identifier name;
};
struct ParamDecl {
  Identifier name;
  ExprPtr value;
};
struct LearnableKnots {
  Span span;     ///< `learnable knots(N) init ...`
  Number count;  ///< N as written
  Span count_span;
  ExprPtr init;  ///< initial value as a function of the schedule's variable
};
struct ScheduleDecl {
  Identifier name;
  Identifier variable;  ///< usually `t`
  ExprPtr body;         ///< null when learnable
  std::optional<LearnableKnots> learnable;
};
struct FunctionDecl {
  Identifier name;
  std::vector<Identifier> params;
  ExprPtr body;
};
struct DriftDecl {
  ExprPtr value;
};
struct DiffusionDecl {
  ExprPtr value;
};
struct NoiseFilter {
  Identifier variable;  ///< usually `kappa`
  ExprPtr body;
};
struct NoiseDecl {
  ExprPtr correlation_length;  ///< null when not given
  Span correlation_length_key;
  std::optional<NoiseFilter> filter;
};
struct BoundaryDecl {
  Identifier kind;  ///< neumann | periodic | dirichlet
  ExprPtr value;    ///< dirichlet only
};
struct TimeItem {
  Identifier key;  ///< T | t0 | dt | taming
  ExprPtr value;   ///< null for `taming = off`
  Span value_span;
};
struct TimeDecl {
  std::vector<TimeItem> items;
};
/// `semantics`, `channels`, `scheme` and `gradient`: a keyword and one word.
struct OptionDecl {
  Identifier keyword;
  Identifier value;
};

using StatementNode = std::variant<ProcessDecl, ParamDecl, ScheduleDecl, FunctionDecl, DriftDecl,
                                   DiffusionDecl, NoiseDecl, BoundaryDecl, TimeDecl, OptionDecl>;

struct Statement {
  Span span;     ///< the whole statement
  Span keyword;  ///< the leading keyword (or the function's name)
  StatementNode node;
};

struct Comment {
  Span span;         ///< from the `#` or `//` to the end of the line
  std::string text;  ///< without the comment marker, right-trimmed
};

struct Module {
  SourcePtr file;
  std::vector<Statement> statements;
  std::vector<Comment> comments;
};

/// Structural equality ignoring spans (and number spelling: values compare).
[[nodiscard]] bool same_structure(const Module& a, const Module& b);
/// A compact S-expression dump, for tests and `--emit ast`.
[[nodiscard]] std::string dump(const Expr& expr);
[[nodiscard]] std::string dump(const Module& module);

/// The statement keyword that names a statement's kind ("param", "drift", ...).
[[nodiscard]] const char* statement_kind(const StatementNode& node);

}  // namespace spdec::lang::ast
