// Pass: ∂g₂ᵢ/∂uᵢ, the derivative of the discretised diffusion coefficient at
// a pixel with respect to the state at that same pixel and channel.
//
// A load of u at the current position depends on the kernel's own u exactly
// when that position *is* the kernel's pixel: its derivative is the
// `indicator`. Through at(e, d) the chain rule carries the position along, so
// a central difference u[i+1] − u[i−1] differentiates to
// at(indicator, 1, 0) − at(indicator, −1, 0): zero in the interior, but not at
// a clamped Neumann border where u[−1] is u[0]. specialize_interior proves the
// interior zero; the border keeps the indicators.
//
// Inside channel_sum(e) the loads read the summed channel c; only the term
// with c equal to the kernel's channel depends on it, and that term is e read
// at the kernel's channel, i.e. the derivative of e outside the sum.
#include <unordered_map>

#include "codegen/passes.hpp"
#include "lang/diagnostics.hpp"

namespace spdec::codegen {
namespace {

class Differentiator {
 public:
  explicit Differentiator(Graph& graph) : g_(graph) {}

  NodeId d(NodeId id) {
    if (const auto found = memo_.find(id); found != memo_.end()) return found->second;
    const NodeId result = derivative(id);
    memo_.emplace(id, result);
    return result;
  }

 private:
  NodeId zero() { return g_.constant(0.0); }

  NodeId derivative(NodeId id) {
    const Node node = g_[id];  // copy: the graph grows below
    if ((node.depends & depends_u) == 0) return zero();
    switch (node.kind) {
      case Kind::load:
        return node.field == Field::u ? g_.indicator() : zero();
      case Kind::at:
        return g_.at(d(node.args[0]), node.a, node.b);
      case Kind::channel_sum:
        return d(node.args[0]);
      case Kind::apply:
        return apply_rule(node);
      default:
        return zero();
    }
  }

  NodeId apply_rule(const Node& n) {
    using lang::Op;
    const NodeId a = n.args[0];
    const NodeId b = n.args[1];
    switch (n.op) {
      case Op::neg:
        return g_.neg(d(a));
      case Op::add:
        return g_.add(d(a), d(b));
      case Op::sub:
        return g_.sub(d(a), d(b));
      case Op::mul:
        return g_.add(g_.mul(d(a), b), g_.mul(a, d(b)));
      case Op::div:  // (a' b − a b') / b²
        return g_.div(g_.sub(g_.mul(d(a), b), g_.mul(a, d(b))), g_.mul(b, b));
      case Op::pow:
        return power_rule(a, b);
      case Op::select:
        return g_.apply(Op::select, a, d(b), d(n.args[2]));
      case Op::exp:
        return g_.mul(g_.apply(Op::exp, a), d(a));
      case Op::log:
        return g_.div(d(a), a);
      case Op::sqrt:
        return g_.div(d(a), g_.mul(g_.constant(2.0), g_.apply(Op::sqrt, a)));
      case Op::abs:  // sign(a) a', with the subgradient 0 at 0
        return g_.apply(Op::select, g_.apply(Op::lt, a, zero()), g_.neg(d(a)),
                        g_.apply(Op::select, g_.apply(Op::gt, a, zero()), d(a), zero()));
      case Op::sin:
        return g_.mul(g_.apply(Op::cos, a), d(a));
      case Op::cos:
        return g_.neg(g_.mul(g_.apply(Op::sin, a), d(a)));
      case Op::tanh: {
        const NodeId t = g_.apply(Op::tanh, a);
        return g_.mul(g_.sub(g_.constant(1.0), g_.mul(t, t)), d(a));
      }
      case Op::sigmoid: {
        const NodeId s = g_.apply(Op::sigmoid, a);
        return g_.mul(g_.mul(s, g_.sub(g_.constant(1.0), s)), d(a));
      }
      case Op::min:  // the derivative of the argument that is taken (a on ties)
        return g_.apply(Op::select, g_.apply(Op::le, a, b), d(a), d(b));
      case Op::max:
        return g_.apply(Op::select, g_.apply(Op::ge, a, b), d(a), d(b));
      case Op::lt:
      case Op::le:
      case Op::gt:
      case Op::ge:
      case Op::eq:
      case Op::ne:
      case Op::logical_and:
      case Op::logical_or:
      case Op::logical_not:
        return zero();  // piecewise constant
      default:
        lang::internal_error(std::string("codegen: no derivative for ") + lang::name(n.op));
    }
  }

  NodeId power_rule(NodeId a, NodeId b) {
    using lang::Op;
    if (g_[b].is_constant()) {  // b a^(b−1) a'
      const NodeId exponent = g_.constant(g_[b].value - 1.0);
      return g_.mul(g_.mul(b, g_.apply(Op::pow, a, exponent)), d(a));
    }
    // a^b (b' log a + b a' / a)
    const NodeId term = g_.add(g_.mul(d(b), g_.apply(Op::log, a)), g_.div(g_.mul(b, d(a)), a));
    return g_.mul(g_.apply(Op::pow, a, b), term);
  }

  Graph& g_;
  std::unordered_map<NodeId, NodeId> memo_;
};

}  // namespace

void differentiate(StencilProgram& program) {
  Differentiator differentiator(program.graph);
  program.diffusion_du.general = differentiator.d(program.diffusion.general);
}

}  // namespace spdec::codegen
