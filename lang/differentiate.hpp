// The one symbolic differentiator of spdec, driven by the op table's
// derivative rules (lang/ops.hpp). Two users build its terms in their own
// representation:
//   - lang's ddt (lang/ddt.cpp): d/dt of checked expressions (ExprRef);
//   - codegen's differentiate pass: ∂g₂/∂u of the stencil IR (NodeId).
// Both get the same rule for every operation, so they cannot disagree (they
// used to, on d|a| at a = 0).
//
// The user supplies an Algebra:
//   using Term;                       a handle to an expression (copyable)
//   Term number(double v, const Term& origin);
//   Term apply(Op op, std::span<const Term> operands, const Term& origin);
//       build a number / an operation; `origin` is the expression whose
//       derivative is being built (lang gives new nodes its source span)
//   bool is_number(const Term& t);    the pow rule's "x1 is a number"
//   Key key(const Term& t);           memo key (one per distinct expression)
//   std::optional<Op> operation(const Term& t);
//       the table operation at t, with operands(t) its operands, or nothing
//       for nodes the algebra differentiates itself (leaves, ghost shifts,
//       channel sums)
//   std::vector<Term> operands(const Term& t);
//   bool independent(const Term& t);  known not to read the variable
//   Term zero(const Term& t);         the zero of t's shape
//   Term own_derivative(const Term& t, Differentiator<Algebra>& d);
//       the derivative of a node that `operation` did not name (may recurse
//       through d.derivative)
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lang/diagnostics.hpp"
#include "lang/ops.hpp"

namespace spdec::lang {

/// d op(x) by the table's rule: `x` the operands, `value` op(x) itself, and
/// `derivative_of(i)` the derivative of operand i, asked for only when the
/// rule uses it (comparisons never differentiate their operands, select never
/// its condition).
template <class Algebra, class DerivativeOf>
typename Algebra::Term apply_derivative_rule(Algebra& algebra, Op op,
                                             std::span<const typename Algebra::Term> x,
                                             const typename Algebra::Term& value,
                                             DerivativeOf&& derivative_of) {
  using Term = typename Algebra::Term;
  const bool x1_is_number = x.size() > 1 && algebra.is_number(x[1]);
  const DerivativeRule* rule = derivative_rule(op, x1_is_number);
  if (rule == nullptr) {
    internal_error(std::string("no derivative rule for ") + std::string(op_info(op).spelling));
  }
  std::vector<Term> terms;
  terms.reserve(rule->size());
  for (const RuleNode& node : *rule) {
    switch (node.kind) {
      case RuleNode::Kind::operand:
        terms.push_back(x[node.index]);
        break;
      case RuleNode::Kind::derivative:
        terms.push_back(derivative_of(node.index));
        break;
      case RuleNode::Kind::value:
        terms.push_back(value);
        break;
      case RuleNode::Kind::number:
        terms.push_back(algebra.number(node.number, value));
        break;
      case RuleNode::Kind::apply: {
        std::vector<Term> args;
        args.reserve(node.args.size());
        for (const std::size_t i : node.args) {
          args.push_back(terms[i]);
        }
        terms.push_back(algebra.apply(node.op, args, value));
        break;
      }
    }
  }
  return terms.back();
}

/// Differentiates a DAG with respect to the algebra's variable, each
/// distinct node once.
template <class Algebra>
class Differentiator {
 public:
  using Term = typename Algebra::Term;

  explicit Differentiator(Algebra& algebra) : algebra_(algebra) {}

  Term derivative(const Term& e) {
    const auto key = algebra_.key(e);
    if (const auto found = memo_.find(key); found != memo_.end()) {
      return found->second;
    }
    Term result = uncached(e);
    memo_.emplace(key, result);
    return result;
  }

 private:
  Term uncached(const Term& e) {
    if (algebra_.independent(e)) {
      return algebra_.zero(e);
    }
    const std::optional<Op> op = algebra_.operation(e);
    if (!op) {
      return algebra_.own_derivative(e, *this);
    }
    const std::vector<Term> x = algebra_.operands(e);
    std::vector<std::optional<Term>> dx(x.size());
    auto derivative_of = [&](std::size_t i) -> Term {
      if (!dx[i]) {
        dx[i] = derivative(x[i]);
      }
      return *dx[i];
    };
    return apply_derivative_rule(algebra_, *op, std::span<const Term>(x), e, derivative_of);
  }

  Algebra& algebra_;
  std::map<decltype(std::declval<Algebra&>().key(std::declval<const Term&>())), Term> memo_;
};

}  // namespace spdec::lang
