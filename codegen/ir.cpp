#include "codegen/ir.hpp"

#include <bit>
#include <cstring>
#include <functional>
#include <unordered_set>

#include "lang/diagnostics.hpp"
#include "lang/ops.hpp"

namespace spdec::codegen {

const char* name(Kind kind) {
  switch (kind) {
    case Kind::constant:
      return "constant";
    case Kind::param:
      return "param";
    case Kind::load:
      return "load";
    case Kind::coord_x:
      return "x";
    case Kind::coord_y:
      return "y";
    case Kind::at:
      return "at";
    case Kind::indicator:
      return "indicator";
    case Kind::channel_sum:
      return "channel_sum";
    case Kind::apply:
      return "apply";
  }
  return "?";
}

const char* name(Field field) {
  switch (field) {
    case Field::u:
      return "u";
    case Field::u0:
      return "u0";
    case Field::frozen:
      return "frozen";
    case Field::cached:
      return "cached";
  }
  return "?";
}

bool Node::operator==(const Node& other) const {
  // Constants compare by bit pattern so that -0.0 and 0.0 (and NaNs) stay distinct.
  return kind == other.kind && op == other.op && field == other.field && a == other.a &&
         b == other.b &&
         std::bit_cast<std::uint64_t>(value) == std::bit_cast<std::uint64_t>(other.value) &&
         arity == other.arity && args == other.args;
}

namespace {

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  // A 64-bit multiply-xorshift combiner (the finaliser of splitmix64).
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6U) + (h >> 2U);
  h ^= h >> 30U;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27U;
  return h;
}

std::uint64_t node_fields_hash(const Node& n) {
  std::uint64_t h = mix(0, static_cast<std::uint64_t>(n.kind));
  h = mix(h, static_cast<std::uint64_t>(n.op));
  h = mix(h, static_cast<std::uint64_t>(n.field));
  h = mix(h, static_cast<std::uint32_t>(n.a));
  h = mix(h, static_cast<std::uint32_t>(n.b));
  h = mix(h, std::bit_cast<std::uint64_t>(n.value));
  return mix(h, n.arity);
}

/// The operand count of an `apply` node: only lang's scalar operations.
int op_arity(lang::Op op) {
  const lang::OpInfo& row = lang::op_info(op);
  if (row.kind != lang::OpKind::scalar) {
    lang::internal_error(std::string("codegen: not a scalar operation: ") + lang::name(op));
  }
  return row.arity;
}

}  // namespace

std::size_t NodeHash::operator()(const Node& node) const {
  std::uint64_t h = node_fields_hash(node);
  for (const NodeId arg : node.args) {
    h = mix(h, static_cast<std::uint32_t>(arg));
  }
  return static_cast<std::size_t>(h);
}

NodeId Graph::intern(Node node) {
  for (std::size_t i = 0; i < node.arity; ++i) {
    node.depends |= (*this)[node.args.at(i)].depends;
  }
  switch (node.kind) {
    case Kind::param:
      node.depends |= depends_param;
      break;
    case Kind::load:
      switch (node.field) {
        case Field::u:
          node.depends |= depends_u;
          break;
        case Field::u0:
          node.depends |= depends_u0;
          break;
        case Field::frozen:
        case Field::cached:
          node.depends |= depends_frozen;
          break;
      }
      break;
    case Kind::coord_x:
    case Kind::coord_y:
      node.depends |= depends_coords;
      break;
    case Kind::at:
      node.depends |= depends_stencil;
      break;
    case Kind::indicator:
      node.depends |= depends_indicator;
      break;
    case Kind::channel_sum:
      node.depends |= depends_channels;
      break;
    case Kind::constant:
    case Kind::apply:
      break;
  }
  if (const auto found = index_.find(node); found != index_.end()) {
    return found->second;
  }
  const auto id = static_cast<NodeId>(nodes_.size());
  nodes_.push_back(node);
  index_.emplace(node, id);
  return id;
}

NodeId Graph::constant(double value) {
  Node n;
  n.kind = Kind::constant;
  n.value = value;
  return intern(n);
}

NodeId Graph::param(std::int32_t slot) {
  Node n;
  n.kind = Kind::param;
  n.a = slot;
  return intern(n);
}

NodeId Graph::load(Field field, std::int32_t slot) {
  Node n;
  n.kind = Kind::load;
  n.field = field;
  n.a = field == Field::cached ? slot : 0;
  return intern(n);
}

NodeId Graph::coord_x() {
  Node n;
  n.kind = Kind::coord_x;
  return intern(n);
}

NodeId Graph::coord_y() {
  Node n;
  n.kind = Kind::coord_y;
  return intern(n);
}

NodeId Graph::indicator() {
  Node n;
  n.kind = Kind::indicator;
  return intern(n);
}

NodeId Graph::at(NodeId e, std::int32_t di, std::int32_t dj, double ghost) {
  const Node& inner = (*this)[e];
  // Position-independent values need no shift (their Dirichlet ghost would be
  // the value itself only for *field* expressions, LANGUAGE.md §12).
  constexpr std::uint8_t kPositional = depends_u | depends_u0 | depends_coords | depends_indicator |
                                       depends_stencil | depends_frozen;
  if ((inner.depends & kPositional) == 0 || (di == 0 && dj == 0)) {
    return e;
  }
  Node n;
  n.kind = Kind::at;
  n.a = di;
  n.b = dj;
  n.value = ghost;
  n.arity = 1;
  n.args[0] = e;
  return intern(n);
}

NodeId Graph::channel_sum(NodeId e) {
  Node n;
  n.kind = Kind::channel_sum;
  n.arity = 1;
  n.args[0] = e;
  return intern(n);
}

NodeId Graph::apply(lang::Op op, NodeId a, NodeId b, NodeId c) {
  const int arity = op_arity(op);
  const std::array<NodeId, 3> args{a, b, c};
  for (int i = 0; i < 3; ++i) {
    const bool present = args.at(static_cast<std::size_t>(i)) != kNoNode;
    if (present != (i < arity)) {
      lang::internal_error(std::string("codegen: wrong operand count for ") + lang::name(op));
    }
  }
  bool all_constant = true;
  std::array<double, 3> values{};
  for (int i = 0; i < arity; ++i) {
    const Node& arg = (*this)[args.at(static_cast<std::size_t>(i))];
    all_constant = all_constant && arg.is_constant();
    values.at(static_cast<std::size_t>(i)) = arg.value;
  }
  if (all_constant) {
    return constant(lang::apply_scalar(op, values.data()));
  }
  return simplify_apply(op, a, b, c);
}

NodeId Graph::simplify_apply(lang::Op op, NodeId a, NodeId b, NodeId c) {
  using lang::Op;
  const auto is = [this](NodeId id, double v) { return (*this)[id].is_constant(v); };
  switch (op) {
    case Op::add:
      if (is(a, 0)) return b;
      if (is(b, 0)) return a;
      break;
    case Op::sub:
      if (is(b, 0)) return a;
      if (is(a, 0)) return neg(b);
      if (a == b) return constant(0);  // finite field values
      break;
    case Op::mul:
      if (is(a, 1)) return b;
      if (is(b, 1)) return a;
      if (is(a, 0) || is(b, 0)) return constant(0);  // finite field values
      if (is(a, -1)) return neg(b);
      if (is(b, -1)) return neg(a);
      break;
    case Op::div:
      if (is(b, 1)) return a;
      if (is(a, 0)) return constant(0);  // finite, nonzero denominators assumed
      break;
    case Op::neg:
      if ((*this)[a].kind == Kind::apply && (*this)[a].op == Op::neg) return (*this)[a].args[0];
      break;
    case Op::pow:
      if (is(b, 1)) return a;
      if (is(b, 0)) return constant(1);
      break;
    case Op::select:
      if ((*this)[a].is_constant()) return (*this)[a].value != 0.0 ? b : c;
      if (b == c) return b;
      break;
    default:
      break;
  }
  Node n;
  n.kind = Kind::apply;
  n.op = op;
  n.arity = static_cast<std::uint8_t>(op_arity(op));
  n.args = {a, b, c};
  if (lang::op_info(op).commutative && n.args[1] < n.args[0]) {
    std::swap(n.args[0], n.args[1]);  // canonical order: more sharing
  }
  return intern(n);
}

NodeId Graph::with_args(NodeId id, const std::array<NodeId, 3>& args) {
  const Node node = (*this)[id];
  switch (node.kind) {
    case Kind::at:
      return at(args[0], node.a, node.b, node.value);
    case Kind::channel_sum:
      return channel_sum(args[0]);
    case Kind::apply:
      return apply(node.op, args[0], node.arity > 1 ? args[1] : kNoNode,
                   node.arity > 2 ? args[2] : kNoNode);
    default:
      return id;  // leaves
  }
}

std::vector<NodeId> topological_order(const Graph& graph, const std::vector<NodeId>& roots) {
  std::vector<NodeId> order;
  std::vector<std::uint8_t> state(graph.size(), 0);  // 0 new, 1 open, 2 done
  std::vector<std::pair<NodeId, std::size_t>> stack;
  for (const NodeId root : roots) {
    if (root == kNoNode || state.at(static_cast<std::size_t>(root)) == 2) continue;
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& [id, next] = stack.back();
      const Node& node = graph[id];
      if (next < node.arity) {
        const NodeId arg = node.args.at(next++);
        if (state.at(static_cast<std::size_t>(arg)) == 0) {
          state.at(static_cast<std::size_t>(arg)) = 1;
          stack.emplace_back(arg, 0);
        }
        continue;
      }
      state.at(static_cast<std::size_t>(id)) = 2;
      order.push_back(id);
      stack.pop_back();
    }
  }
  return order;
}

std::uint64_t structural_hash(const Graph& graph, NodeId root) {
  std::unordered_map<NodeId, std::uint64_t> hashes;
  for (const NodeId id : topological_order(graph, {root})) {
    const Node& node = graph[id];
    std::uint64_t h = node_fields_hash(node);
    for (std::size_t i = 0; i < node.arity; ++i) {
      h = mix(h, hashes.at(node.args.at(i)));
    }
    hashes.emplace(id, h);
  }
  return root == kNoNode ? 0 : hashes.at(root);
}

}  // namespace spdec::codegen
