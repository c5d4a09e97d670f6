// Pass: the interior form of every root.
//
// Where no `at` chain leaves the grid the ghost rule G is the identity, so a
// chain at(at(e, a), b) reads e at a + b: every `at` moves down to the leaves
// with its total offset, and an indicator at total offset d is the constant
// [d == 0]. Folding then removes whatever that makes zero — for a g₂ built
// from central differences, all of ∂g₂/∂u (so div Σ emits nothing there).
//
// The region where this holds: a chain's intermediate positions stay within
// the sum of |offsets| along it, so reach = the largest such sum over all
// chains, per axis, and the interior is [reach, size − reach) on each axis.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <tuple>
#include <vector>

#include "codegen/passes.hpp"

namespace spdec::codegen {
namespace {

struct Position {
  std::int32_t x = 0;  ///< total offset from the pixel
  std::int32_t y = 0;
  std::int32_t reach_x = 0;  ///< Σ|dx| along the chain so far
  std::int32_t reach_y = 0;
};

class Interior {
 public:
  explicit Interior(StencilProgram& program) : program_(program), g_(program.graph) {}

  NodeId rewrite(NodeId id, Position p) {
    const auto key = std::tuple{id, p.x, p.y, p.reach_x, p.reach_y};
    if (const auto found = memo_.find(key); found != memo_.end()) return found->second;
    const NodeId result = rewrite_uncached(id, p);
    memo_.emplace(key, result);
    return result;
  }

 private:
  NodeId rewrite_uncached(NodeId id, Position p) {
    const Node node = g_[id];  // copy: the graph grows below
    switch (node.kind) {
      case Kind::load:
      case Kind::coord_x:
      case Kind::coord_y:
        program_.reach_x = std::max(program_.reach_x, p.reach_x);
        program_.reach_y = std::max(program_.reach_y, p.reach_y);
        return g_.at(id, p.x, p.y);
      case Kind::indicator:
        return g_.constant(p.x == 0 && p.y == 0 ? 1.0 : 0.0);
      case Kind::at: {
        const Position moved{p.x + node.a, p.y + node.b, p.reach_x + std::abs(node.a),
                             p.reach_y + std::abs(node.b)};
        return rewrite(node.args[0], moved);
      }
      case Kind::channel_sum:
      case Kind::apply: {
        std::array<NodeId, 3> args = node.args;
        for (std::size_t i = 0; i < node.arity; ++i) {
          args.at(i) = rewrite(node.args.at(i), p);
        }
        return g_.with_args(id, args);
      }
      case Kind::constant:
      case Kind::param:
        return id;
    }
    return id;
  }

  StencilProgram& program_;
  Graph& g_;
  std::map<std::tuple<NodeId, std::int32_t, std::int32_t, std::int32_t, std::int32_t>, NodeId>
      memo_;
};

}  // namespace

void specialize_interior(StencilProgram& program) {
  program.reach_x = 0;
  program.reach_y = 0;
  Interior interior(program);
  std::vector<Root*> roots{&program.drift, &program.diffusion, &program.diffusion_du,
                           &program.fed.step};
  for (Root& root : program.fed.cached) roots.push_back(&root);
  for (Root* root : roots) {
    root->interior = root->general == kNoNode ? kNoNode : interior.rewrite(root->general, {});
  }
}

}  // namespace spdec::codegen
