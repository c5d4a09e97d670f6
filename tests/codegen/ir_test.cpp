// The IR's graph: hash-consing, folding, simplification, hashing, printing.
#include "codegen/ir.hpp"

#include <catch2/catch.hpp>

#include "codegen/passes.hpp"
#include "tests/codegen/support.hpp"

using namespace spdec::codegen;
using spdec::lang::Op;

TEST_CASE("structurally equal nodes are one node", "[ir]") {
  Graph g;
  const NodeId u = g.load(Field::u);
  const NodeId a = g.add(g.at(u, 1, 0), g.at(u, -1, 0));
  const NodeId b = g.add(g.at(u, -1, 0), g.at(u, 1, 0));  // commuted
  CHECK(a == b);
  CHECK(g.at(u, 1, 0) != g.at(u, 0, 1));
  CHECK(g.at(u, 0, 0) == u);
  const std::size_t before = g.size();
  (void)g.add(g.at(u, 1, 0), g.at(u, -1, 0));
  CHECK(g.size() == before);
}

TEST_CASE("constants fold and exact identities simplify", "[ir]") {
  Graph g;
  const NodeId u = g.load(Field::u);
  CHECK(g[g.add(g.constant(2), g.constant(3))].is_constant(5));
  CHECK(g.add(u, g.constant(0)) == u);
  CHECK(g.mul(g.constant(1), u) == u);
  CHECK(g[g.mul(g.constant(0), u)].is_constant(0));  // field values are finite
  CHECK(g[g.sub(u, u)].is_constant(0));
  CHECK(g.neg(g.neg(u)) == u);
  CHECK(g.apply(Op::select, g.constant(1), u, g.constant(7)) == u);
  // Position-independent values are not shifted.
  const NodeId p = g.param(0);
  CHECK(g.at(p, 3, 1) == p);
  // Division by an infinite constant folds only when both sides are constant.
  CHECK(g[g.div(g.constant(1), g.constant(INFINITY))].is_constant(0));
}

TEST_CASE("structural hashes agree across graphs and differ for different code", "[ir]") {
  Graph g1;
  Graph g2;
  (void)g2.constant(42);  // different ids in g2
  const auto build = [](Graph& g, int d) {
    const NodeId u = g.load(Field::u);
    return g.mul(g.param(0), g.sub(g.at(u, d, 0), u));
  };
  CHECK(structural_hash(g1, build(g1, 1)) == structural_hash(g2, build(g2, 1)));
  CHECK(structural_hash(g1, build(g1, 1)) != structural_hash(g1, build(g1, 2)));
}

TEST_CASE("the verifier accepts every lowered library process and rejects broken IR", "[ir]") {
  const auto program = spdec::test::program_of(spdec::test::spec("lap(u)"));
  CHECK(verify(program).empty());
  StencilProgram broken = program;
  broken.drift.interior = broken.drift.general;  // general form has at() above non-leaves? lap: no
  broken.diffusion_du.interior = broken.graph.indicator();
  CHECK_FALSE(verify(broken).empty());
}

TEST_CASE("print names every param and root", "[ir]") {
  const auto program = spdec::test::program_of(
      "process p\nschedule a(t) = 1 + t\ndrift = a(t) * lap(u)\n"
      "diffusion = 1\ntime T = 1, dt = 0.01\n");
  const std::string text = print(program);
  CHECK_THAT(text, Catch::Contains("p0 = (1 + t)"));
  CHECK_THAT(text, Catch::Contains("drift (interior):"));
  CHECK_THAT(text, Catch::Contains("interior reach (1, 1)"));
}
