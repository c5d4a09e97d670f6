// Pass: lowering a checked process to the stencil IR (the discretisation of
// specs/LANGUAGE.md §12–15).
//
// Every expression is lowered at a *placement*: a node o (an offset from the
// kernel's pixel, possibly a ghost node outside the grid) or a face between
// the nodes o and o + e_axis. At the pixel itself the placement is node (0,0);
// other placements arise only where the face-conductance schemes evaluate k
// elsewhere. Leaves at node o read at(leaf, o), whose ghost rule gives the
// ghost values; the operand of a stencil is "computed on the grid and
// extended", at(operand, q).
#include <cmath>
#include <map>
#include <tuple>

#include "codegen/passes.hpp"
#include "lang/diagnostics.hpp"
#include "lang/expr.hpp"
#include "lang/tensor.hpp"

namespace spdec::codegen {
namespace {

using lang::ExprRef;
using lang::Op;

struct Offset {
  std::int32_t x = 0;
  std::int32_t y = 0;
  [[nodiscard]] Offset operator+(Offset o) const { return {x + o.x, y + o.y}; }
  [[nodiscard]] Offset operator-(Offset o) const { return {x - o.x, y - o.y}; }
};

constexpr std::array<Offset, 2> kAxes{Offset{1, 0}, Offset{0, 1}};

/// A node, or (axis ≥ 0) the face between node and node + kAxes[axis].
struct Placement {
  Offset node;
  std::int32_t face_axis = -1;
  [[nodiscard]] bool is_face() const { return face_axis >= 0; }
  [[nodiscard]] auto key() const { return std::tuple{node.x, node.y, face_axis}; }
};

Placement at_node(Offset o) { return Placement{o, -1}; }

/// A lowered value: a scalar (y == kNoNode), a vector (x, y) or a
/// symmetric matrix [[x, y], [y, z]].
struct Value {
  NodeId x = kNoNode;
  NodeId y = kNoNode;
  NodeId z = kNoNode;
  [[nodiscard]] bool is_vector() const { return y != kNoNode && z == kNoNode; }
  [[nodiscard]] bool is_matrix() const { return z != kNoNode; }
};

/// The slot of a time-stage value among the program's host params, added
/// when no equal one is there yet.
std::int32_t host_param_slot(StencilProgram& program, const ExprRef& e) {
  for (std::size_t i = 0; i < program.params.size(); ++i) {
    if (lang::equal(program.params[i].expr, e)) return static_cast<std::int32_t>(i);
  }
  program.params.push_back(HostParam{e, lang::to_string(e)});
  return static_cast<std::int32_t>(program.params.size() - 1);
}

class Lowering {
 public:
  /// lag_conductance: the FED operator's lowering, in which every load of u
  /// inside the conductance k of a flux-form div(k * grad(e)) reads the
  /// frozen state instead (the grad part keeps reading u).
  Lowering(const lang::Process& process, StencilProgram& program, bool lag_conductance = false)
      : process_(process), program_(program), g_(program.graph), lag_(lag_conductance) {}

  NodeId scalar(const ExprRef& e, Placement p) {
    const Value v = lower(e, p);
    if (v.y != kNoNode) lang::internal_error("codegen: a vector where a scalar was checked");
    return v.x;
  }

 private:
  Value lower(const ExprRef& e, Placement p) {
    const auto key = std::tuple{e.get(), p.key(), lagging_ > 0};
    if (const auto found = memo_.find(key); found != memo_.end()) return found->second;
    const Value v = lower_uncached(e, p);
    memo_.emplace(key, v);
    return v;
  }

  Value lower_uncached(const ExprRef& e, Placement p) {
    if (e->stage == lang::Stage::constant && e->shape == lang::Shape::scalar) {
      return {g_.constant(e->value)};
    }
    if (e->stage == lang::Stage::time && e->shape == lang::Shape::scalar) {
      return {param_for(e)};
    }
    switch (e->op) {
      case Op::field_u:
        return {leaf_at(g_.load(lagging_ > 0 ? Field::frozen : Field::u), p)};
      case Op::field_u0:
        return {leaf_at(g_.load(Field::u0), p)};
      case Op::coord_x:
        return {leaf_at(g_.coord_x(), p)};
      case Op::coord_y:
        return {leaf_at(g_.coord_y(), p)};
      case Op::neg: {
        const Value a = lower(e->args[0], p);
        return {g_.neg(a.x), a.is_vector() ? g_.neg(a.y) : kNoNode};
      }
      case Op::add:
      case Op::sub:
      case Op::mul:
      case Op::div:
        return arithmetic(e->op, lower(e->args[0], p), lower(e->args[1], p));
      case Op::select: {
        const NodeId c = scalar(e->args[0], p);
        const Value a = lower(e->args[1], p);
        const Value b = lower(e->args[2], p);
        return {g_.apply(Op::select, c, a.x, b.x),
                a.is_vector() ? g_.apply(Op::select, c, a.y, b.y) : kNoNode};
      }
      case Op::make_vector:
        return {scalar(e->args[0], p), scalar(e->args[1], p)};
      case Op::make_matrix:
        return {scalar(e->args[0], p), scalar(e->args[1], p), scalar(e->args[2], p)};
      case Op::norm2:
        return {reduce(e, norm2(lower(e->args[0], p)))};
      case Op::norm:
        return {g_.apply(Op::sqrt, reduce(e, norm2(lower(e->args[0], p))))};
      case Op::dot: {
        const Value a = lower(e->args[0], p);
        const Value b = lower(e->args[1], p);
        return {reduce(e, g_.add(g_.mul(a.x, b.x), g_.mul(a.y, b.y)))};
      }
      case Op::grad:
        return gradient(e->args[0], p);
      case Op::dx:
        return {gradient(e->args[0], p).x};
      case Op::dy:
        return {gradient(e->args[0], p).y};
      case Op::lap:
      case Op::div_:
      case Op::sobel:
      case Op::gauss:
      case Op::shift:
        return node_stencil(e, p);
      case Op::kappa:
        lang::internal_error("codegen: kappa outside a noise filter");
      default:
        break;
    }
    // The remaining scalar operations map one to one.
    std::array<NodeId, 3> args{kNoNode, kNoNode, kNoNode};
    for (std::size_t i = 0; i < e->args.size() && i < 3; ++i) {
      args.at(i) = scalar(e->args[i], p);
    }
    return {g_.apply(e->op, args[0], args[1], args[2])};
  }

  Value arithmetic(Op op, Value a, Value b) {
    // Matrices reach lowering only as make_matrix and in M * v (lang keeps
    // the others entry by entry).
    if (a.is_matrix()) {
      return {g_.add(g_.mul(a.x, b.x), g_.mul(a.y, b.y)),
              g_.add(g_.mul(a.y, b.x), g_.mul(a.z, b.y))};
    }
    if (!a.is_vector() && !b.is_vector()) return {g_.apply(op, a.x, b.x)};
    if (a.is_vector() && b.is_vector()) return {g_.apply(op, a.x, b.x), g_.apply(op, a.y, b.y)};
    if (a.is_vector()) return {g_.apply(op, a.x, b.x), g_.apply(op, a.y, b.x)};
    return {g_.apply(op, a.x, b.x), g_.apply(op, a.x, b.y)};  // scalar * vector
  }

  NodeId norm2(Value v) { return g_.add(g_.mul(v.x, v.x), g_.mul(v.y, v.y)); }

  /// With `channels coupled`, reductions of vectors derived from u or u0 sum
  /// over all channels (LANGUAGE.md §15).
  NodeId reduce(const ExprRef& e, NodeId per_channel) {
    const bool reads_fields = (e->reads & (lang::reads_u | lang::reads_u0)) != 0;
    return program_.coupled_channels && reads_fields ? g_.channel_sum(per_channel) : per_channel;
  }

  NodeId param_for(const ExprRef& e) { return g_.param(host_param_slot(program_, e)); }

  /// A leaf at a placement: at the node, or the mean of a face's two nodes.
  NodeId leaf_at(NodeId leaf, Placement p) {
    if (!p.is_face()) return at(leaf, p.node.x, p.node.y);
    const Offset other = p.node + kAxes.at(static_cast<std::size_t>(p.face_axis));
    return mean(at(leaf, p.node.x, p.node.y), at(leaf, other.x, other.y));
  }

  /// at() with the boundary's Dirichlet ghost value.
  NodeId at(NodeId e, Offset q) { return g_.at(e, q.x, q.y, program_.boundary_value); }
  NodeId at(NodeId e, std::int32_t di, std::int32_t dj) { return at(e, Offset{di, dj}); }

  NodeId mean(NodeId a, NodeId b) { return g_.mul(g_.constant(0.5), g_.add(a, b)); }

  /// The operand of a stencil, computed on the grid and extended by the
  /// ghost rule, read at node q — except a smoothing gauss(e, σ), which is
  /// evaluated at q itself: the weighted sum of e around q, ghost values
  /// included (the smoothing of the extended image, §13.7).
  NodeId operand_at(const ExprRef& f, Offset q) {
    if (f->op == Op::gauss) return scalar(f, at_node(q));
    const NodeId on_grid = scalar(f, at_node({0, 0}));
    return at(on_grid, q);
  }

  Value operand_vector_at(const ExprRef& f, Offset q) {
    const Value on_grid = lower(f, at_node({0, 0}));
    return {at(on_grid.x, q), at(on_grid.y, q)};
  }

  /// The node-gradient scale of `gradient difference | central` (§13.2).
  NodeId gradient_scale() {
    return g_.constant(process_.gradient == lang::GradientForm::central ? 0.5 : 1.0);
  }

  NodeId node_difference(const ExprRef& f, Offset o, Offset axis) {
    return g_.mul(gradient_scale(), g_.sub(operand_at(f, o + axis), operand_at(f, o - axis)));
  }

  Value gradient(const ExprRef& f, Placement p) {
    if (!p.is_face()) {
      return {node_difference(f, p.node, kAxes[0]), node_difference(f, p.node, kAxes[1])};
    }
    // Face gradient (§13.4, face_gradient): the normal component is the face
    // difference scaled like the node gradient (x2 for `difference`), the
    // tangential one the mean of the two nodes' node differences.
    const auto axis = static_cast<std::size_t>(p.face_axis);
    const Offset other = p.node + kAxes.at(axis);
    const NodeId scale = g_.mul(g_.constant(2.0), gradient_scale());
    const NodeId normal = g_.mul(scale, g_.sub(operand_at(f, other), operand_at(f, p.node)));
    const Offset tangent = kAxes.at(1 - axis);
    const NodeId tangential =
        mean(node_difference(f, p.node, tangent), node_difference(f, other, tangent));
    return axis == 0 ? Value{normal, tangential} : Value{tangential, normal};
  }

  /// lap, div, sobel, shift: defined at nodes; at a face, the mean of its two.
  Value node_stencil(const ExprRef& e, Placement p) {
    if (p.is_face()) {
      const Offset other = p.node + kAxes.at(static_cast<std::size_t>(p.face_axis));
      const Value a = node_stencil(e, at_node(p.node));
      const Value b = node_stencil(e, at_node(other));
      return {mean(a.x, b.x), a.is_vector() ? mean(a.y, b.y) : kNoNode};
    }
    const Offset o = p.node;
    const ExprRef& f = e->args[0];
    switch (e->op) {
      case Op::lap: {
        NodeId sum = g_.mul(g_.constant(-4.0), operand_at(f, o));
        for (const Offset axis : kAxes) {
          sum = g_.add(sum, g_.add(operand_at(f, o + axis), operand_at(f, o - axis)));
        }
        return {sum};
      }
      case Op::shift:
        return {operand_at(f, o + Offset{e->index, e->index2})};
      case Op::sobel:
        return sobel(f, o);
      case Op::div_:
        return {divergence(f, o)};
      case Op::gauss:
        return {gaussian(f, e->args[1]->value, o)};
      default:
        lang::internal_error(std::string("codegen: not a node stencil: ") + lang::name(e->op));
    }
  }

  Value sobel(const ExprRef& f, Offset o) {
    const auto s = [&](std::int32_t di, std::int32_t dj) {
      return operand_at(f, o + Offset{di, dj});
    };
    const auto column = [&](std::int32_t di) {
      return g_.add(g_.add(s(di, -1), g_.mul(g_.constant(2.0), s(di, 0))), s(di, 1));
    };
    const auto row = [&](std::int32_t dj) {
      return g_.add(g_.add(s(-1, dj), g_.mul(g_.constant(2.0), s(0, dj))), s(1, dj));
    };
    return {g_.sub(column(1), column(-1)), g_.sub(row(1), row(-1))};
  }

  /// gauss(f, σ) at node o: Σ_j w_j Σ_i w_i f(o + (i, j)), the product of
  /// the 1-D weights summed row by row, with f *evaluated at* the nodes
  /// o + (i, j) as a conductance is at a neighbour node (§13.4: its leaves
  /// and its stencils' operands read there through the ghost rule); and an
  /// enclosing stencil reads gauss at its own nodes the same way
  /// (operand_at). So gauss smooths the image extended by the ghost rule —
  /// the usual convolution with a Neumann or periodic extension — rather than
  /// smoothing on the grid and then extending the result (§13.7). Inside the
  /// grid the two agree. At the border this keeps a structure tensor (a
  /// smoothing of products of gradients of a smoothing) one `at` level deep
  /// per leaf instead of one level per nesting, which would multiply the size
  /// of the kernels' border code by a stencil's area at every level; and it
  /// is symmetric in x and y.
  NodeId gaussian(const ExprRef& f, double sigma, Offset o) {
    const std::vector<double> weights = lang::gauss_weights(sigma);
    const auto radius = static_cast<std::int32_t>(weights.size() / 2);
    const auto weight = [&](std::int32_t k) {
      return g_.constant(weights.at(static_cast<std::size_t>(k + radius)));
    };
    NodeId sum = g_.constant(0.0);
    for (std::int32_t j = -radius; j <= radius; ++j) {
      NodeId row = g_.constant(0.0);
      for (std::int32_t i = -radius; i <= radius; ++i) {
        row = g_.add(row, g_.mul(weight(i), scalar(f, at_node(o + Offset{i, j}))));
      }
      sum = g_.add(sum, g_.mul(weight(j), row));
    }
    return sum;
  }

  /// div(v): flux form when v = k * grad(e) (or grad(e), or k * grad(e) / c),
  /// the tensor stencil when v = D * grad(e) (scaled), else the normalised
  /// central difference of v's components.
  NodeId divergence(const ExprRef& v, Offset o) {
    if (const auto tensor = lang::match_tensor_flux(v)) {
      return tensor_flux(tensor->matrix, tensor->operand, o);
    }
    ExprRef k;
    ExprRef e;
    if (match_flux(v, k, e)) return flux(k, e, o);
    const Value x_plus = operand_vector_at(v, o + kAxes[0]);
    const Value x_minus = operand_vector_at(v, o - kAxes[0]);
    const Value y_plus = operand_vector_at(v, o + kAxes[1]);
    const Value y_minus = operand_vector_at(v, o - kAxes[1]);
    const NodeId sum = g_.add(g_.sub(x_plus.x, x_minus.x), g_.sub(y_plus.y, y_minus.y));
    return g_.mul(g_.constant(0.5), sum);
  }

  /// Recognises k * grad(e), grad(e) * k, grad(e) and (any of them) / c.
  /// k == nullptr means k = 1.
  static bool match_flux(const ExprRef& v, ExprRef& k, ExprRef& e) {
    if (v->op == Op::grad) {
      k = nullptr;
      e = v->args[0];
      return true;
    }
    if (v->op == Op::mul && v->args[1]->op == Op::grad &&
        v->args[0]->shape == lang::Shape::scalar) {
      k = v->args[0];
      e = v->args[1]->args[0];
      return true;
    }
    if (v->op == Op::mul && v->args[0]->op == Op::grad &&
        v->args[1]->shape == lang::Shape::scalar) {
      k = v->args[1];
      e = v->args[0]->args[0];
      return true;
    }
    if (v->op == Op::div && match_flux(v->args[0], k, e)) {
      const ExprRef one = lang::constant(1.0);
      const ExprRef inverse = lang::binary(Op::div, one, v->args[1], v->span);
      k = k ? lang::binary(Op::mul, k, inverse, v->span) : inverse;
      return true;
    }
    return false;
  }

  NodeId conductance(const ExprRef& k, Placement p) {
    if (!k) return g_.constant(1.0);
    if (lag_) ++lagging_;
    const NodeId value = scalar(k, p);
    if (lag_) --lagging_;
    return value;
  }

  /// Σ_d k₊ (e[o+e_d] − e[o]) − k₋ (e[o] − e[o−e_d]) with the scheme's k±.
  NodeId flux(const ExprRef& k, const ExprRef& e, Offset o) {
    NodeId sum = g_.constant(0.0);
    const NodeId centre = operand_at(e, o);
    for (std::size_t axis = 0; axis < kAxes.size(); ++axis) {
      const Offset plus = o + kAxes.at(axis);
      const Offset minus = o - kAxes.at(axis);
      NodeId k_plus = kNoNode;
      NodeId k_minus = kNoNode;
      switch (process_.scheme) {
        case lang::FluxScheme::paper:
          k_plus = conductance(k, at_node(plus));
          k_minus = conductance(k, at_node(minus));
          break;
        case lang::FluxScheme::face_mean:
          k_plus = mean(conductance(k, at_node(o)), conductance(k, at_node(plus)));
          k_minus = mean(conductance(k, at_node(o)), conductance(k, at_node(minus)));
          break;
        case lang::FluxScheme::face_gradient:
          k_plus = conductance(k, Placement{o, static_cast<std::int32_t>(axis)});
          k_minus = conductance(k, Placement{minus, static_cast<std::int32_t>(axis)});
          break;
      }
      const NodeId out = g_.mul(k_plus, g_.sub(operand_at(e, plus), centre));
      const NodeId in = g_.mul(k_minus, g_.sub(centre, operand_at(e, minus)));
      sum = g_.add(sum, g_.sub(out, in));
    }
    return sum;
  }

  /// The value on the edge from node o to its neighbour o + d of a
  /// coefficient f (a function of the placement it is evaluated at), as the
  /// scheme places face conductances (§13.4): `paper` at the neighbour node,
  /// `face_mean` the mean of the two nodes, `face_gradient` at the face for
  /// the four axis edges (the mean of the two nodes on a diagonal).
  template <class Coefficient>
  NodeId edge_value(const Coefficient& f, Offset o, Offset d) {
    const Offset other = o + d;
    const bool axis_edge = d.x == 0 || d.y == 0;
    switch (process_.scheme) {
      case lang::FluxScheme::paper:
        return f(at_node(other));
      case lang::FluxScheme::face_gradient:
        if (axis_edge) {
          const std::int32_t axis = d.x != 0 ? 0 : 1;
          const bool forward = d.x + d.y > 0;
          return f(Placement{forward ? o : other, axis});
        }
        [[fallthrough]];
      case lang::FluxScheme::face_mean:
        break;
    }
    return mean(f(at_node(o)), f(at_node(other)));
  }

  /// An entry of a tensor flux's D at a placement: as a conductance (at a
  /// node, from the values there; at a face, with the face gradient). The
  /// FED operator instead reads each entry computed on the grid from the
  /// frozen state and extended by the ghost rule (a face: the mean of its two
  /// nodes): its cached fields are then the three entries, each computed once
  /// per pixel, where placing them would cache every edge weight of the
  /// stencil separately — eight fields, each recomputing D (for a structure
  /// tensor, its whole smoothing) at two nodes. The two differ only at ghost
  /// nodes, and FED's lag is an approximation of the same order. Under a
  /// Dirichlet boundary the ghost of a field computed on the grid is the
  /// boundary *value* (§12), no diffusivity, so there the entries are placed
  /// as in the drift.
  NodeId entry(const ExprRef& x, Placement p) {
    if (!lag_ || program_.boundary == lang::BoundaryKind::dirichlet) return conductance(x, p);
    const NodeId on_grid = conductance(x, at_node({0, 0}));
    if (!p.is_face()) return at(on_grid, p.node);
    const Offset other = p.node + kAxes.at(static_cast<std::size_t>(p.face_axis));
    return mean(at(on_grid, p.node), at(on_grid, other));
  }

  /// div(D grad e) at node o for D = [[a, b], [b, c]] (§13.6): Weickert's
  /// nonnegativity stencil (J. Weickert, "Anisotropic Diffusion in Image
  /// Processing", 1998, §3.4.2),
  ///   Σ_d w_d (e[o + d] − e[o]) over the eight neighbours,
  ///   w = a − |b| on the x-edges, c − |b| on the y-edges,
  ///   (|b| + b)/2 on the edges along ±(1, 1), (|b| − b)/2 along ±(1, −1),
  /// each coefficient placed on its edge by the scheme (edge_value). The axis
  /// part is built exactly as flux() builds it, so that for b = 0 (D = k·I,
  /// divxy) the diagonal terms fold away and the IR *is* the scalar flux of
  /// div(k * grad(e)).
  NodeId tensor_flux(const ExprRef& m, const ExprRef& e, Offset o) {
    const ExprRef& b = m->args[1];
    const auto off = [&](Placement p) { return g_.apply(Op::abs, entry(b, p)); };
    const auto positive = [&](Placement p) {  // (|b| + b)/2
      return g_.mul(g_.constant(0.5), g_.add(off(p), entry(b, p)));
    };
    const auto negative = [&](Placement p) {  // (|b| − b)/2
      return g_.mul(g_.constant(0.5), g_.sub(off(p), entry(b, p)));
    };
    NodeId sum = g_.constant(0.0);
    const NodeId centre = operand_at(e, o);
    for (std::size_t axis = 0; axis < kAxes.size(); ++axis) {
      const ExprRef& k = m->args[axis == 0 ? 0 : 2];
      const auto diagonal = [&](Placement p) { return entry(k, p); };
      const Offset step = kAxes.at(axis);
      const NodeId k_plus = g_.sub(edge_value(diagonal, o, step), edge_value(off, o, step));
      const Offset back{-step.x, -step.y};
      const NodeId k_minus = g_.sub(edge_value(diagonal, o, back), edge_value(off, o, back));
      const NodeId out = g_.mul(k_plus, g_.sub(operand_at(e, o + step), centre));
      const NodeId in = g_.mul(k_minus, g_.sub(centre, operand_at(e, o + back)));
      sum = g_.add(sum, g_.sub(out, in));
    }
    for (const Offset d : {Offset{1, 1}, Offset{-1, -1}, Offset{1, -1}, Offset{-1, 1}}) {
      const bool rising = d.x == d.y;
      const NodeId w = rising ? edge_value(positive, o, d) : edge_value(negative, o, d);
      sum = g_.add(sum, g_.mul(w, g_.sub(operand_at(e, o + d), centre)));
    }
    return sum;
  }

  const lang::Process& process_;
  StencilProgram& program_;
  Graph& g_;
  bool lag_ = false;
  int lagging_ = 0;  ///< > 0 while lowering a conductance in the lagged mode
  std::map<
      std::tuple<const lang::Expr*, std::tuple<std::int32_t, std::int32_t, std::int32_t>, bool>,
      Value>
      memo_;
};

bool is_white_noise(const lang::Process& process) {
  return process.noise.correlation_length == 0 && !process.noise.filter;
}

}  // namespace

StencilProgram lower(const lang::Process& process) {
  StencilProgram program;
  program.process_name = process.name;
  program.file = process.file;
  if (process.drift) program.drift_span = process.drift->span;
  if (process.diffusion) program.diffusion_span = process.diffusion->span;
  program.boundary = process.boundary.kind;
  program.boundary_value = process.boundary.value;
  program.coupled_channels = process.channels == lang::Channels::coupled;
  const unsigned reads = (process.drift ? process.drift->reads : 0U) |
                         (process.diffusion ? process.diffusion->reads : 0U);
  program.reads_u0 = (reads & lang::reads_u0) != 0;
  program.noise_identity = is_white_noise(process);
  program.dt = process.time.dt;
  program.taming = process.time.taming;

  Lowering lowering(process, program);
  const Placement pixel = at_node({0, 0});
  program.drift.general =
      process.drift ? lowering.scalar(process.drift, pixel) : program.graph.constant(0.0);
  program.diffusion.general =
      process.diffusion ? lowering.scalar(process.diffusion, pixel) : program.graph.constant(0.0);
  // The FED operator A(frozen) u (checked and split by the fed pass).
  Lowering lagged(process, program, /*lag_conductance=*/true);
  program.fed.lagged.general =
      process.drift ? lagged.scalar(process.drift, pixel) : program.graph.constant(0.0);
  // Only the decoupled model reads the variance the flow kernels accumulate.
  const lang::ExprRef& rate = process.classification.pointwise_rate.rate;
  if (rate && process.training.model == lang::ModelKind::decoupled) {
    program.noise_rate_param = host_param_slot(program, rate);
  }
  return program;
}

}  // namespace spdec::codegen
