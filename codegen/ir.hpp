// The stencil IR: scalar field expressions over neighbour offsets.
//
// A node is the value of an expression at "the current position" of a
// pixel's evaluation. Positions start at the kernel's pixel and move only
// through `at` nodes:
//
//   at(e, di, dj)   e evaluated at G(p + (di, dj)), where p is the current
//                   position and G the boundary's ghost rule (neumann: clamp,
//                   periodic: wrap, dirichlet: outside the grid the value is
//                   the boundary value, whatever e is — LANGUAGE.md §12).
//
// So `at` chains compose through G (at(at(e, a), b) is NOT at(e, a + b) at the
// border), which is exactly "the inner expression is computed on the grid and
// extended by the ghost rule". In the interior, where no chain leaves the grid,
// they do add up: the `specialize_interior` pass folds them.
//
// Everything is scalar: lowering turns vectors into pairs of nodes. Time-stage
// values (schedules of t, learnable knots) are `param` slots computed on the
// host in double once per step and passed to the kernel; constants are folded
// at construction (IEEE, with field values assumed finite, so 0·e = 0).
//
// Nodes are hash-consed in a Graph: a NodeId names a structurally unique
// expression, so equality is id equality and CSE is free.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "lang/expr.hpp"

namespace spdec::codegen {

using NodeId = std::int32_t;
inline constexpr NodeId kNoNode = -1;

enum class Kind : std::uint8_t {
  constant,     ///< `value`
  param,        ///< kernel parameter slot `a` (a time-stage value)
  load,         ///< the field `field` at the current position and channel
                ///< (Field::cached: the cached field number `a`)
  coord_x,      ///< column index of the current position
  coord_y,      ///< row index of the current position
  at,           ///< args[0] at G(current + (a, b))
  indicator,    ///< 1 when the current position is the kernel's own pixel, else 0
  channel_sum,  ///< Σ over channels c of args[0], its loads reading channel c
  apply,        ///< the scalar operation `op` of args (lang's scalar ops)
};

/// u the state, u0 the initial state; for the FED kernels (codegen/fed.cpp)
/// also `frozen`, the state the conductances are lagged at (the cycle's
/// start), and `cached`, a field the kernel precomputed from `frozen` once
/// per cycle (slot Node::a).
enum class Field : std::uint8_t { u, u0, frozen, cached };

[[nodiscard]] const char* name(Kind kind);
[[nodiscard]] const char* name(Field field);

/// What a node depends on, as a bit set (for passes and emitters).
enum Depends : std::uint8_t {
  depends_none = 0,
  depends_u = 1U << 0U,
  depends_u0 = 1U << 1U,
  depends_coords = 1U << 2U,
  depends_param = 1U << 3U,
  depends_indicator = 1U << 4U,
  depends_stencil = 1U << 5U,   ///< contains an `at`
  depends_channels = 1U << 6U,  ///< contains a channel_sum
  depends_frozen = 1U << 7U,    ///< reads the frozen state (or a cached field of it)
};

struct Node {
  Kind kind = Kind::constant;
  lang::Op op = lang::Op::constant;  ///< Kind::apply
  Field field = Field::u;            ///< Kind::load
  std::int32_t a = 0;                ///< param slot; at: di (columns)
  std::int32_t b = 0;                ///< at: dj (rows)
  double value = 0;                  ///< Kind::constant; at: the Dirichlet ghost value
  std::uint8_t arity = 0;
  std::uint8_t depends = depends_none;
  std::array<NodeId, 3> args{kNoNode, kNoNode, kNoNode};

  [[nodiscard]] bool is_constant() const { return kind == Kind::constant; }
  [[nodiscard]] bool is_constant(double v) const { return kind == Kind::constant && value == v; }
  [[nodiscard]] bool operator==(const Node& other) const;
};

struct NodeHash {
  [[nodiscard]] std::size_t operator()(const Node& node) const;
};

/// A hash-consed DAG. Constructors fold constants and apply the algebraic
/// identities that are exact for finite values (x+0, x·1, x·0, x/1, x−x, ...).
class Graph {
 public:
  [[nodiscard]] NodeId constant(double value);
  [[nodiscard]] NodeId param(std::int32_t slot);
  [[nodiscard]] NodeId load(Field field, std::int32_t slot = 0);
  [[nodiscard]] NodeId coord_x();
  [[nodiscard]] NodeId coord_y();
  /// `ghost` is the value outside the grid under a Dirichlet boundary: the
  /// boundary value for values, 0 for derivatives (stored in Node::value).
  [[nodiscard]] NodeId at(NodeId e, std::int32_t di, std::int32_t dj, double ghost = 0.0);
  [[nodiscard]] NodeId indicator();
  [[nodiscard]] NodeId channel_sum(NodeId e);
  /// A scalar operation of lang (neg ... max, select); folds and simplifies.
  [[nodiscard]] NodeId apply(lang::Op op, NodeId a, NodeId b = kNoNode, NodeId c = kNoNode);

  // Shorthands.
  [[nodiscard]] NodeId add(NodeId a, NodeId b) { return apply(lang::Op::add, a, b); }
  [[nodiscard]] NodeId sub(NodeId a, NodeId b) { return apply(lang::Op::sub, a, b); }
  [[nodiscard]] NodeId mul(NodeId a, NodeId b) { return apply(lang::Op::mul, a, b); }
  [[nodiscard]] NodeId div(NodeId a, NodeId b) { return apply(lang::Op::div, a, b); }
  [[nodiscard]] NodeId neg(NodeId a) { return apply(lang::Op::neg, a); }

  [[nodiscard]] const Node& operator[](NodeId id) const {
    return nodes_.at(static_cast<std::size_t>(id));
  }
  [[nodiscard]] std::size_t size() const { return nodes_.size(); }

  /// The same node with new arguments (re-simplified).
  [[nodiscard]] NodeId with_args(NodeId id, const std::array<NodeId, 3>& args);

 private:
  NodeId intern(Node node);
  [[nodiscard]] NodeId simplify_apply(lang::Op op, NodeId a, NodeId b, NodeId c);

  std::vector<Node> nodes_;
  std::unordered_map<Node, NodeId, NodeHash> index_;
};

/// Nodes reachable from `roots`, each once, arguments before users.
[[nodiscard]] std::vector<NodeId> topological_order(const Graph& graph,
                                                    const std::vector<NodeId>& roots);

/// Structural hash of the expression under `root` (stable across runs and
/// graphs: it hashes structure, not ids).
[[nodiscard]] std::uint64_t structural_hash(const Graph& graph, NodeId root);

}  // namespace spdec::codegen
