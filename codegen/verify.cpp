// Pass: structural invariants. A failure is a compiler bug, reported with the
// node that breaks the rule; the pipeline stops on it.
#include <sstream>
#include <vector>

#include "codegen/passes.hpp"

namespace spdec::codegen {
namespace {

std::string check_node(const StencilProgram& program, NodeId id) {
  const Graph& g = program.graph;
  const Node& node = g[id];
  for (std::size_t i = 0; i < 3; ++i) {
    const NodeId arg = node.args.at(i);
    if ((i < node.arity) != (arg != kNoNode)) return "operand count does not match its arity";
    if (arg != kNoNode && (arg < 0 || arg >= id)) return "operand is not an earlier node";
  }
  if (node.kind == Kind::param &&
      (node.a < 0 || static_cast<std::size_t>(node.a) >= program.params.size())) {
    return "param slot out of range";
  }
  if (node.kind == Kind::at && node.a == 0 && node.b == 0) return "at with a zero offset";
  return {};
}

/// The interior form has `at` only directly above leaves and no indicators.
std::string check_interior(const Graph& g, NodeId root) {
  for (const NodeId id : topological_order(g, {root})) {
    const Node& node = g[id];
    if (node.kind == Kind::indicator) return "indicator left in an interior root";
    if (node.kind == Kind::at) {
      const Kind inner = g[node.args[0]].kind;
      if (inner != Kind::load && inner != Kind::coord_x && inner != Kind::coord_y) {
        return "interior at() above a non-leaf";
      }
    }
  }
  return {};
}

}  // namespace

std::string verify(const StencilProgram& program) {
  std::ostringstream problems;
  for (const NodeId id : topological_order(program.graph, program.roots())) {
    if (const std::string why = check_node(program, id); !why.empty()) {
      problems << "node %" << id << " (" << name(program.graph[id].kind) << "): " << why << "\n";
    }
  }
  if (program.drift.general == kNoNode || program.diffusion.general == kNoNode) {
    problems << "drift or diffusion missing\n";
  }
  std::vector<const Root*> roots{&program.drift, &program.diffusion, &program.diffusion_du,
                                 &program.fed.step};
  for (const Root& root : program.fed.cached) roots.push_back(&root);
  if (program.fed.available && program.fed.step.general == kNoNode) {
    problems << "fed available without a step root\n";
  }
  for (const Root* root : roots) {
    if (root->interior == kNoNode) continue;
    if (const std::string why = check_interior(program.graph, root->interior); !why.empty()) {
      problems << why << "\n";
    }
  }
  if (program.reach_x < 0 || program.reach_y < 0) problems << "negative reach\n";
  return problems.str();
}

}  // namespace spdec::codegen
