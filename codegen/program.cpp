#include "codegen/program.hpp"

#include <cmath>
#include <map>
#include <sstream>

#include "lang/hash.hpp"
#include "lang/number.hpp"

namespace spdec::codegen {

std::vector<NodeId> StencilProgram::roots() const {
  std::vector<NodeId> out;
  std::vector<const Root*> all{&drift, &diffusion, &diffusion_du, &fed.lagged, &fed.step};
  for (const Root& root : fed.cached) all.push_back(&root);
  for (const Root* root : all) {
    for (const NodeId id : {root->general, root->interior}) {
      if (id != kNoNode) out.push_back(id);
    }
  }
  return out;
}

namespace {

std::string describe(const Node& node, const std::map<NodeId, std::size_t>& names) {
  std::ostringstream out;
  const auto arg = [&](std::size_t i) { return "%" + std::to_string(names.at(node.args.at(i))); };
  switch (node.kind) {
    case Kind::constant:
      out << "const " << lang::number_text(node.value);
      break;
    case Kind::param:
      out << "param p" << node.a;
      break;
    case Kind::load:
      out << "load " << name(node.field);
      if (node.field == Field::cached) out << " " << node.a;
      break;
    case Kind::coord_x:
    case Kind::coord_y:
    case Kind::indicator:
      out << name(node.kind);
      break;
    case Kind::at:
      out << "at " << arg(0) << " (" << node.a << ", " << node.b << ")";
      break;
    case Kind::channel_sum:
      out << "channel_sum " << arg(0);
      break;
    case Kind::apply:
      out << lang::name(node.op);
      for (std::size_t i = 0; i < node.arity; ++i) out << (i == 0 ? " " : ", ") << arg(i);
      break;
  }
  return out.str();
}

void print_root(std::ostringstream& out, const Graph& graph, const char* title, NodeId root) {
  out << title << ":\n";
  if (root == kNoNode) {
    out << "  (none)\n";
    return;
  }
  std::map<NodeId, std::size_t> names;
  for (const NodeId id : topological_order(graph, {root})) {
    const std::size_t number = names.size();
    names.emplace(id, number);
    out << "  %" << number << " = " << describe(graph[id], names) << "\n";
  }
  out << "  return %" << names.at(root) << "\n";
}

}  // namespace

std::string print(const StencilProgram& program) {
  std::ostringstream out;
  out << "process " << program.process_name << "\n";
  out << "boundary " << lang::name(program.boundary);
  if (program.boundary == lang::BoundaryKind::dirichlet) {
    out << " " << lang::number_text(program.boundary_value);
  }
  out << ", channels " << (program.coupled_channels ? "coupled" : "independent") << ", noise "
      << (program.noise_identity ? "white" : "spectral") << ", dt " << lang::number_text(program.dt)
      << ", taming " << (program.taming ? lang::number_text(*program.taming) : std::string("off"))
      << "\n";
  out << "interior reach (" << program.reach_x << ", " << program.reach_y << ")\n";
  out << "params:\n";
  for (std::size_t i = 0; i < program.params.size(); ++i) {
    out << "  p" << i << " = " << program.params[i].text << "\n";
  }
  if (program.noise_rate_param >= 0) {
    out << "noise decay rate p" << program.noise_rate_param << "\n";
  }
  const Graph& g = program.graph;
  print_root(out, g, "drift", program.drift.general);
  print_root(out, g, "drift (interior)", program.drift.interior);
  print_root(out, g, "diffusion", program.diffusion.general);
  print_root(out, g, "diffusion (interior)", program.diffusion.interior);
  print_root(out, g, "d diffusion / du", program.diffusion_du.general);
  print_root(out, g, "d diffusion / du (interior)", program.diffusion_du.interior);
  if (program.fed.available) {
    print_root(out, g, "fed operator A(frozen) u", program.fed.lagged.general);
    print_root(out, g, "fed step", program.fed.step.general);
    print_root(out, g, "fed step (interior)", program.fed.step.interior);
    for (std::size_t j = 0; j < program.fed.cached.size(); ++j) {
      const std::string title = "fed cached " + std::to_string(j);
      print_root(out, g, title.c_str(), program.fed.cached[j].general);
      print_root(out, g, (title + " (interior)").c_str(), program.fed.cached[j].interior);
    }
  } else {
    out << "fed: unavailable (" << program.fed.refusal << ")\n";
  }
  return out.str();
}

std::uint64_t program_hash(const StencilProgram& program) {
  // Hash the printed form: it names every node and setting that reaches the
  // emitters, so equal dumps generate equal code.
  return lang::fnv1a64(print(program));
}

}  // namespace spdec::codegen
