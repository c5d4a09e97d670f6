// The differentiate pass: lang's differentiator building ∂g₂/∂u in the IR,
// checked against central differences of the IR's values and at the kink of
// |u|.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "codegen/passes.hpp"
#include "lang/ops.hpp"
#include "support.hpp"
#include "tests/lang/derivative_oracle.hpp"

using spdec::codegen::Graph;
using spdec::codegen::Kind;
using spdec::codegen::NodeId;
using spdec::lang::Op;

namespace {

/// The value of a pointwise IR expression (no `at`, no params) with u = `u`
/// at the kernel's own pixel, by the op table's IEEE evaluation.
double value_at(const Graph& graph, NodeId id, double u) {
  const spdec::codegen::Node& node = graph[id];
  switch (node.kind) {
    case Kind::constant:
      return node.value;
    case Kind::load:
      REQUIRE(node.field == spdec::codegen::Field::u);
      return u;
    case Kind::indicator:
      return 1.0;
    case Kind::apply: {
      std::array<double, 3> x{};
      for (std::size_t i = 0; i < node.arity; ++i) x.at(i) = value_at(graph, node.args.at(i), u);
      return spdec::lang::apply_scalar(node.op, x.data());
    }
    default:
      FAIL("unexpected node " << spdec::codegen::name(node.kind));
  }
  return 0;
}

/// NaN where any subexpression is not finite (see check_derivative).
double strict_value_at(const Graph& graph, NodeId id, double u) {
  const spdec::codegen::Node& node = graph[id];
  for (std::size_t i = 0; i < node.arity; ++i) {
    if (std::isnan(strict_value_at(graph, node.args.at(i), u))) return std::nan("");
  }
  const double v = value_at(graph, id, u);
  return std::isfinite(v) ? v : std::nan("");
}

/// A scalar lang expression of t as IR with t read as the state u.
NodeId to_ir(Graph& graph, const spdec::lang::ExprRef& e) {
  if (e->op == Op::constant) return graph.constant(e->value);
  if (e->op == Op::time) return graph.load(spdec::codegen::Field::u);
  std::array<NodeId, 3> args{spdec::codegen::kNoNode, spdec::codegen::kNoNode,
                             spdec::codegen::kNoNode};
  for (std::size_t i = 0; i < e->args.size(); ++i) args.at(i) = to_ir(graph, e->args[i]);
  return graph.apply(e->op, args[0], args[1], args[2]);
}

/// ∂g₂/∂u of the program whose diffusion is `root`.
NodeId derivative_of(spdec::codegen::StencilProgram& program, NodeId root) {
  program.diffusion.general = root;
  spdec::codegen::differentiate(program);
  return program.diffusion_du.general;
}

}  // namespace

TEST_CASE("d g2/du agrees with central differences on random expressions rooted at each op",
          "[differentiate]") {
  // As lang's ddt oracle (tests/lang/ops_test.cpp), on IR: its folding and
  // simplification (x·0 = 0, x − x = 0, canonical operand order) sit
  // between the rules and the values here.
  spdec::test::RandomExpressions random(77, /*vectors=*/false);
  for (const spdec::lang::OpInfo& row : spdec::lang::all_ops()) {
    if (row.kind != spdec::lang::OpKind::scalar) continue;
    int checked = 0;
    for (int attempt = 0; attempt < 4000 && checked < 40; ++attempt) {
      spdec::codegen::StencilProgram program;
      const NodeId g = to_ir(program.graph, random.rooted(row.op, 4));
      const NodeId d = derivative_of(program, g);
      const double u = random.uniform(-1.5, 1.5);
      const auto f = [&](double x) { return strict_value_at(program.graph, g, x); };
      const auto check = spdec::test::check_derivative(f, u, value_at(program.graph, d, u));
      if (!check.usable) continue;
      INFO(row.id << " at u = " << u << ": d = " << value_at(program.graph, d, u)
                  << ", differences " << check.estimate << " ± " << check.tolerance << "\n"
                  << spdec::codegen::print(program));
      CHECK(check.agrees);
      ++checked;
    }
    INFO(row.id);
    CHECK(checked >= 40);
  }
}

TEST_CASE("d|u|/du at u = 0 is 0, the mean of the one-sided slopes", "[differentiate]") {
  // The kernels' symbolic ∂g₂/∂u and lang's ddt share the rule; 0 is also
  // what the reference backend's autograd gives for abs at 0.
  auto program = spdec::test::program_of(spdec::test::spec("0", "abs(u)"));
  const NodeId d = program.diffusion_du.general;
  CHECK(value_at(program.graph, d, 0.0) == 0.0);
  CHECK(value_at(program.graph, d, -0.0) == 0.0);
  CHECK(value_at(program.graph, d, -0.5) == -1.0);
  CHECK(value_at(program.graph, d, 0.5) == 1.0);

  auto shifted = spdec::test::program_of(spdec::test::spec("0", "abs(u - 0.25) + 1"));
  CHECK(value_at(shifted.graph, shifted.diffusion_du.general, 0.25) == 0.0);
}
