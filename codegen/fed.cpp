// Pass: the operator of Fast Explicit Diffusion (FED) with a lagged
// conductance.
//
// FED (Grewenig, Weickert and Bruhn, "From box filtering to fast explicit
// diffusion", DAGM 2010; Weickert, Grewenig, Schroers and Bruhn, "Cyclic
// schemes for PDE-based image analysis", IJCV 2016) runs cycles of explicit
// steps u ← u + τᵢ A u whose step sizes exceed the explicit stability limit
// inside a cycle; only the cycle as a whole is stable, and only when A is the
// same operator at every step of the cycle. For a nonlinear drift that is
// bought by freezing: lower.cpp lowers the drift a second time with the
// conductance k of every flux-form div(k * grad(e)) reading the `frozen`
// field (the state at the cycle's start) instead of u, which gives
// program.fed.lagged = A(v)u.
//
// This pass decides whether A(v)u is linear in u and, if so, splits it:
//
//   1. Linearity. Every node is classed as independent of u, linear
//      (homogeneous, degree 1) in u, or other. Loads of u are linear; `at`
//      and channel_sum keep their operand's class; sums need both sides
//      linear; a product or a quotient needs one linear factor and the other
//      (the divisor) independent; select needs an independent condition and
//      equal classes. Anything else that reads u — a nonlinear term outside
//      the conductances (a reaction term f(u), |grad u| outside a flux, div
//      of a vector that is not k * grad(e)), or a source term that makes the
//      drift affine — refuses FED: program.fed.available = false with the
//      reason, and the runtime keeps the explicit flow_steps. (Lagging every
//      nonlinear occurrence would also give a linear operator, but not one
//      whose spectrum we can bound or whose maximum principle we can argue;
//      refusing is the honest choice.) A drift that is the constant 0 is the
//      zero operator and accepted. Under a Dirichlet boundary the ghost value
//      makes A affine at the border; that is accepted (the boundary value is
//      a fixed point of every step, and the extremum principle then holds
//      against min/max of x₀ and the boundary value).
//
//   2. Hoisting. The maximal subexpressions that read the frozen state but
//      not u (the conductances: g1(t, grad v) at a node, a face mean, a face
//      gradient's conductance) become cached fields: program.fed.cached[j]
//      computes one on the grid, and program.fed.step reads `load cached j`
//      where the lagged operator had the subexpression. `at` wrappers stay
//      outside (at(k, ±1, 0) of the paper scheme reads one cached field at
//      four offsets), and a bare load of the frozen state is not worth a
//      field. A frozen-only expression that combines fields read at offsets
//      (the edge weights of a tensor flux, from D's entries on the grid) is
//      not cached whole: its fields are, so that D is computed once per pixel
//      rather than once per weight. The conductance is then evaluated once per cycle, and every
//      step of the cycle is a stencil with stored weights — one pass over
//      memory per step.
#include <map>
#include <optional>
#include <set>
#include <string>

#include "codegen/passes.hpp"

namespace spdec::codegen {
namespace {

enum class Degree : std::uint8_t { none, linear, other };

class Linearity {
 public:
  explicit Linearity(const Graph& g) : g_(g) {}

  /// The class of `root`; on `other`, why() names the first offending node.
  Degree of(NodeId root) {
    for (const NodeId id : topological_order(g_, {root})) degree_.emplace(id, classify(id));
    return degree_.at(root);
  }
  [[nodiscard]] const std::string& why() const { return why_; }

 private:
  Degree classify(NodeId id) {
    const Node& node = g_[id];
    if ((node.depends & depends_u) == 0) return Degree::none;
    const auto arg = [&](std::size_t i) { return degree_.at(node.args.at(i)); };
    const auto fail = [&](const std::string& what) {
      if (why_.empty()) why_ = what;
      return Degree::other;
    };
    switch (node.kind) {
      case Kind::load:
        return Degree::linear;
      case Kind::at:
      case Kind::channel_sum:
        return arg(0);
      case Kind::apply:
        break;
      default:
        return fail(std::string("a ") + name(node.kind) + " node reads u");
    }
    using lang::Op;
    switch (node.op) {
      case Op::neg:
        return arg(0);
      case Op::add:
      case Op::sub:
        if (arg(0) == Degree::linear && arg(1) == Degree::linear) return Degree::linear;
        if (arg(0) == Degree::other || arg(1) == Degree::other) return Degree::other;
        return fail("the lagged drift has a term that does not read u (a source term: affine)");
      case Op::mul: {
        const Degree a = arg(0);
        const Degree b = arg(1);
        if ((a == Degree::linear && b == Degree::none) ||
            (a == Degree::none && b == Degree::linear))
          return Degree::linear;
        if (a == Degree::other || b == Degree::other) return Degree::other;
        return fail("a product of two terms that read u (nonlinear outside a conductance)");
      }
      case Op::div:
        if (arg(0) == Degree::linear && arg(1) == Degree::none) return Degree::linear;
        if (arg(0) == Degree::other || arg(1) == Degree::other) return Degree::other;
        return fail("a quotient by a term that reads u");
      case Op::select:
        if (arg(0) == Degree::none && arg(1) == arg(2)) return arg(1);
        if (arg(0) == Degree::other || arg(1) == Degree::other || arg(2) == Degree::other)
          return Degree::other;
        return fail("a select whose condition reads u, or whose branches differ in u");
      default:
        for (std::size_t i = 0; i < node.arity; ++i) {
          if (arg(i) == Degree::other) return Degree::other;
        }
        return fail(std::string(lang::name(node.op)) +
                    " of u outside a flux-form conductance (nonlinear in u)");
    }
  }

  const Graph& g_;
  std::map<NodeId, Degree> degree_;
  std::string why_;
};

class Hoist {
 public:
  explicit Hoist(StencilProgram& program) : program_(program), g_(program.graph) {}

  NodeId rewrite(NodeId id) {
    if (const auto found = memo_.find(id); found != memo_.end()) return found->second;
    const NodeId result = rewrite_uncached(id);
    memo_.emplace(id, result);
    return result;
  }

 private:
  NodeId rewrite_uncached(NodeId id) {
    const Node node = g_[id];  // copy: the graph grows below
    if ((node.depends & depends_u) == 0) {
      if ((node.depends & depends_frozen) == 0) return id;  // params, u0, coordinates
      if (node.kind == Kind::load) return id;               // a bare frozen read
      if (node.kind == Kind::at) return g_.at(rewrite(node.args[0]), node.a, node.b, node.value);
      if (!reads_shifted_field(id)) return cached(id);
      // A cheap combination of fields read at offsets (a tensor flux's edge
      // weight from its D entries, lower.cpp): cache the fields, not each
      // combination, which would recompute them once per combination.
    }
    std::array<NodeId, 3> args = node.args;
    for (std::size_t i = 0; i < node.arity; ++i) args.at(i) = rewrite(node.args.at(i));
    return g_.with_args(id, args);
  }

  /// Whether an operand of `id` (through operations, not through `at`) is a
  /// shifted field: a frozen-only expression other than a bare load that is
  /// read at an offset, here or anywhere in the operator (at offset 0 it is
  /// read directly).
  bool reads_shifted_field(NodeId id) {
    const Node& node = g_[id];
    for (std::size_t i = 0; i < node.arity; ++i) {
      if (is_shifted_field_read(node.args.at(i))) return true;
    }
    return false;
  }

  bool is_shifted_field_read(NodeId id) {
    if (const auto found = shifted_.find(id); found != shifted_.end()) return found->second;
    const Node& node = g_[id];
    bool result = shifted_fields().contains(id);
    if (node.kind == Kind::at) {
      result = shifted_fields().contains(node.args[0]);
    } else if (!result && node.kind == Kind::apply) {
      result = reads_shifted_field(id);
    }
    shifted_.emplace(id, result);
    return result;
  }

  /// The frozen-only expressions (not bare loads) the operator reads under
  /// an `at`.
  const std::set<NodeId>& shifted_fields() {
    if (!fields_) {
      fields_.emplace();
      for (const NodeId id : topological_order(g_, {program_.fed.lagged.general})) {
        const Node& node = g_[id];
        if (node.kind != Kind::at) continue;
        const Node& inner = g_[node.args[0]];
        if (inner.kind != Kind::load && (inner.depends & depends_frozen) != 0 &&
            (inner.depends & depends_u) == 0) {
          fields_->insert(node.args[0]);
        }
      }
    }
    return *fields_;
  }

  NodeId cached(NodeId id) {
    auto& fields = program_.fed.cached;
    for (std::size_t j = 0; j < fields.size(); ++j) {
      if (fields[j].general == id) return g_.load(Field::cached, static_cast<std::int32_t>(j));
    }
    fields.push_back(Root{id, kNoNode});
    return g_.load(Field::cached, static_cast<std::int32_t>(fields.size() - 1));
  }

  StencilProgram& program_;
  Graph& g_;
  std::map<NodeId, NodeId> memo_;
  std::map<NodeId, bool> shifted_;
  std::optional<std::set<NodeId>> fields_;
};

}  // namespace

void prepare_fed(StencilProgram& program) {
  FedOperator& fed = program.fed;
  fed.available = false;
  fed.cached.clear();
  fed.step = {};
  if (fed.lagged.general == kNoNode) {
    fed.refusal = "no drift";
    return;
  }
  const Node& root = program.graph[fed.lagged.general];
  if (root.is_constant(0.0)) {
    fed.available = true;  // the zero operator: Φ_t = identity
    fed.step.general = fed.lagged.general;
    return;
  }
  Linearity linearity(program.graph);
  const Degree degree = linearity.of(fed.lagged.general);
  if (degree != Degree::linear) {
    fed.refusal = degree == Degree::none
                      ? "the drift does not read u (a pure source term)"
                      : "the drift with lagged conductances is not linear in u: " + linearity.why();
    return;
  }
  Hoist hoist(program);
  fed.step.general = hoist.rewrite(fed.lagged.general);
  fed.available = true;
  fed.refusal.clear();
}

}  // namespace spdec::codegen
