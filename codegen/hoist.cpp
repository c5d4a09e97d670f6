#include "codegen/hoist.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "lang/ops.hpp"

namespace spdec::codegen {
namespace {

/// A leaf offset, ordered rows first: the anchor of an expression is its
/// smallest leaf offset, which moves with the expression under translation.
struct Offset {
  std::int32_t dy = 0;
  std::int32_t dx = 0;
  bool operator<(const Offset& other) const {
    return dy != other.dy ? dy < other.dy : dx < other.dx;
  }
};

/// Worth a row buffer: a buffer costs a store and a load per pixel, so only
/// expressions with a call (sqrt, exp, pow, ...) or a division are hoisted.
constexpr int kHoistCost = 8;

int op_cost(lang::Op op) {
  const std::string_view form = lang::op_info(op).c_form;
  if (form.find('@') != std::string_view::npos) {
    const bool cheap = form.find("fabsf") != std::string_view::npos ||
                       form.find("fminf") != std::string_view::npos ||
                       form.find("fmaxf") != std::string_view::npos;
    return cheap ? 1 : kHoistCost;
  }
  return form.find('/') != std::string_view::npos ? kHoistCost / 2 : 1;
}

bool positional_leaf(const Node& node) {
  return node.kind == Kind::load || node.kind == Kind::coord_x || node.kind == Kind::coord_y;
}

class Planner {
 public:
  explicit Planner(Graph& graph) : g_(graph) {}

  HoistPlan plan(NodeId root) {
    // Classes read at a single offset once their users are hoisted are not
    // worth a buffer: drop them and plan again (each round drops one at least).
    std::set<NodeId> dropped;
    for (;;) {
      HoistPlan result = select(root, dropped);
      const std::size_t before = dropped.size();
      for (const HoistedClass& cls : result.classes) {
        if (distinct_offsets(result, cls.canonical) < 2) dropped.insert(cls.canonical);
      }
      if (dropped.size() == before) return result;
    }
  }

 private:
  /// The smallest leaf offset under `id` (nullopt: no positional leaf).
  std::optional<Offset> anchor(NodeId id) {
    if (const auto found = anchors_.find(id); found != anchors_.end()) return found->second;
    const Node node = g_[id];
    std::optional<Offset> result;
    if (positional_leaf(node)) {
      result = Offset{};
    } else if (node.kind == Kind::at) {
      if (anchor(node.args[0])) result = Offset{node.b, node.a};
    } else {
      for (std::size_t i = 0; i < node.arity; ++i) {
        const auto inner = anchor(node.args.at(i));
        if (inner && (!result || *inner < *result)) result = inner;
      }
    }
    anchors_.emplace(id, result);
    return result;
  }

  /// `id` with every leaf moved by (dx, dy) (interior forms: `at` on leaves only).
  NodeId translate(NodeId id, std::int32_t dx, std::int32_t dy) {
    std::map<NodeId, NodeId> done;  // a DAG: each shared node once, not once per path
    return translate(id, dx, dy, done);
  }

  NodeId translate(NodeId id, std::int32_t dx, std::int32_t dy, std::map<NodeId, NodeId>& done) {
    if (const auto found = done.find(id); found != done.end()) return found->second;
    const Node node = g_[id];  // copy: the graph grows below
    NodeId out = id;
    if (positional_leaf(node)) {
      out = g_.at(id, dx, dy);
    } else if (node.kind == Kind::at) {
      out = g_.at(node.args[0], node.a + dx, node.b + dy);
    } else if (node.kind == Kind::apply || node.kind == Kind::channel_sum) {
      std::array<NodeId, 3> args = node.args;
      for (std::size_t i = 0; i < node.arity; ++i) args.at(i) = translate(args.at(i), dx, dy, done);
      out = g_.with_args(id, args);
    }
    done.emplace(id, out);
    return out;
  }

  /// The cost of evaluating `id` once, each distinct node counted once, up
  /// to `enough` (all a candidate needs to know is whether it reaches it).
  int cost(NodeId id, std::set<NodeId>& seen, int enough) {
    if (!seen.insert(id).second) return 0;
    const Node& node = g_[id];
    int total = node.kind == Kind::apply ? op_cost(node.op) : 0;
    for (std::size_t i = 0; i < node.arity && total < enough; ++i) {
      total += cost(node.args.at(i), seen, enough - total);
    }
    return total;
  }

  /// Candidates: costly expressions with leaves, not read under a channel_sum.
  void collect(NodeId id, std::set<NodeId>& visited) {
    if (!visited.insert(id).second) return;
    const Node node = g_[id];  // copy: translate() grows the graph
    if (node.kind != Kind::apply) return;
    std::set<NodeId> seen;
    if (const auto at = anchor(id); at && cost(id, seen, kHoistCost) >= kHoistCost) {
      const NodeId canonical = translate(id, -at->dx, -at->dy);
      candidates_[id] = {canonical, *at};
      members_[canonical].insert(*at);
    }
    for (std::size_t i = 0; i < node.arity; ++i) collect(node.args.at(i), visited);
  }

  /// Top-down: a candidate whose class is read at two offsets or more is
  /// hoisted (its operands are then the class's business, not the root's).
  void choose(NodeId id, const std::set<NodeId>& dropped, std::set<NodeId>& visited,
              HoistPlan& out) {
    if (!visited.insert(id).second) return;
    const Node& node = g_[id];
    if (node.kind != Kind::apply) return;
    if (const auto found = candidates_.find(id); found != candidates_.end()) {
      const auto& [canonical, offset] = found->second;
      if (members_[canonical].size() >= 2 && !dropped.contains(canonical)) {
        out.reads[id] = {class_index(out, canonical), offset.dx, offset.dy};
        return;
      }
    }
    for (std::size_t i = 0; i < node.arity; ++i) choose(node.args.at(i), dropped, visited, out);
  }

  static std::size_t class_index(HoistPlan& plan, NodeId canonical) {
    for (std::size_t i = 0; i < plan.classes.size(); ++i) {
      if (plan.classes[i].canonical == canonical) return i;
    }
    plan.classes.push_back({canonical});
    return plan.classes.size() - 1;
  }

  HoistPlan select(NodeId root, const std::set<NodeId>& dropped) {
    if (candidates_.empty()) {
      std::set<NodeId> visited;
      collect(root, visited);
    }
    HoistPlan out;
    std::set<NodeId> visited;
    choose(root, dropped, visited, out);
    for (HoistedClass& cls : out.classes) {
      bool first = true;
      for (const auto& [node, read] : out.reads) {
        if (out.classes[read.index].canonical != cls.canonical) continue;
        cls.dx_min = first ? read.dx : std::min(cls.dx_min, read.dx);
        cls.dx_max = first ? read.dx : std::max(cls.dx_max, read.dx);
        cls.dy_min = first ? read.dy : std::min(cls.dy_min, read.dy);
        cls.dy_max = first ? read.dy : std::max(cls.dy_max, read.dy);
        first = false;
      }
    }
    return out;
  }

  static std::size_t distinct_offsets(const HoistPlan& plan, NodeId canonical) {
    std::set<Offset> offsets;
    for (const auto& [node, read] : plan.reads) {
      if (plan.classes[read.index].canonical == canonical) offsets.insert({read.dy, read.dx});
    }
    return offsets.size();
  }

  Graph& g_;
  std::map<NodeId, std::optional<Offset>> anchors_;
  std::map<NodeId, std::pair<NodeId, Offset>> candidates_;  ///< node → (canonical, anchor)
  std::map<NodeId, std::set<Offset>> members_;              ///< canonical → anchors seen
};

}  // namespace

HoistPlan plan_hoists(Graph& graph, NodeId interior_root) {
  if (interior_root == kNoNode) return {};
  return Planner(graph).plan(interior_root);
}

}  // namespace spdec::codegen
