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
#include "lang/differentiate.hpp"

#include <optional>
#include <span>
#include <vector>

#include "codegen/passes.hpp"

namespace spdec::codegen {
namespace {

/// ∂/∂u(pixel) in the IR, for lang's differentiator: `apply` nodes follow
/// the op table's rules; loads, `at` and channel sums are this pass's own.
class StateAlgebra {
 public:
  using Term = NodeId;

  explicit StateAlgebra(Graph& graph) : g_(graph) {}

  Term number(double v, Term /*origin*/) { return g_.constant(v); }

  Term apply(lang::Op op, std::span<const Term> x, Term /*origin*/) {
    return g_.apply(op, x[0], x.size() > 1 ? x[1] : kNoNode, x.size() > 2 ? x[2] : kNoNode);
  }

  bool is_number(Term id) const { return g_[id].is_constant(); }
  static NodeId key(Term id) { return id; }

  std::optional<lang::Op> operation(Term id) const {
    if (g_[id].kind != Kind::apply) return std::nullopt;
    return g_[id].op;
  }

  std::vector<Term> operands(Term id) const {
    const Node& node = g_[id];
    return {node.args.begin(), node.args.begin() + node.arity};
  }

  bool independent(Term id) const { return (g_[id].depends & depends_u) == 0; }
  Term zero(Term /*id*/) { return g_.constant(0.0); }

  Term own_derivative(Term id, lang::Differentiator<StateAlgebra>& d) {
    const Node node = g_[id];  // copy: the graph grows below
    switch (node.kind) {
      case Kind::load:
        return node.field == Field::u ? g_.indicator() : zero(id);
      case Kind::at:
        return g_.at(d.derivative(node.args[0]), node.a, node.b);
      case Kind::channel_sum:
        return d.derivative(node.args[0]);
      default:
        return zero(id);
    }
  }

 private:
  Graph& g_;
};

}  // namespace

void differentiate(StencilProgram& program) {
  StateAlgebra algebra(program.graph);
  lang::Differentiator<StateAlgebra> differentiator(algebra);
  program.diffusion_du.general = differentiator.derivative(program.diffusion.general);
}

}  // namespace spdec::codegen
