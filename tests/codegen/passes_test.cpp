// The passes: lowering's discretisation choices visible in the IR, the
// derivative of g2 and its interior proof, the interior reach, the pipeline.
#include "codegen/passes.hpp"

#include <catch2/catch.hpp>
#include <filesystem>

#include "codegen/emit.hpp"
#include "codegen/pipeline.hpp"
#include "tests/codegen/support.hpp"

using namespace spdec::codegen;
using spdec::test::program_of;
using spdec::test::spec;

namespace {

std::uint64_t drift_hash(const StencilProgram& p) {
  return structural_hash(p.graph, p.drift.general);
}

bool contains_kind(const StencilProgram& p, NodeId root, Kind kind) {
  for (const NodeId id : topological_order(p.graph, {root})) {
    if (p.graph[id].kind == kind) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("div(grad(u)) in flux form is one IR under every scheme, k = 1 folded", "[lower]") {
  // With k = 1 every face conductance folds to 1, so the three schemes and
  // the written-out `1 * grad(u)` lower to the same nodes. (lap(u) is the
  // same operator summed in another order: equal in exact arithmetic, which
  // the reference tests check numerically.)
  const std::uint64_t flux = drift_hash(program_of(spec("div(grad(u))")));
  CHECK(flux != drift_hash(program_of(spec("lap(u)"))));
  for (const char* scheme : {"paper", "face_mean", "face_gradient"}) {
    INFO(scheme);
    CHECK(drift_hash(program_of(spec("div(grad(u))", "1", std::string("scheme ") + scheme))) ==
          flux);
    CHECK(drift_hash(program_of(spec("div(1 * grad(u))", "1", std::string("scheme ") + scheme))) ==
          flux);
  }
}

TEST_CASE("the interior reach is the longest chain of offsets", "[lower]") {
  const auto reach = [](const std::string& drift) {
    const auto p = program_of(spec(drift));
    return std::pair{p.reach_x, p.reach_y};
  };
  CHECK(reach("-u") == std::pair{0, 0});
  CHECK(reach("lap(u)") == std::pair{1, 1});
  CHECK(reach("lap(lap(u))") == std::pair{2, 2});
  CHECK(reach("shift(u, 3, -2)") == std::pair{3, 2});
  CHECK(reach("div(1 / (1 + norm2(grad(u))) * grad(u))") == std::pair{2, 2});  // paper scheme
  const auto pm = spdec::codegen::build_program(spdec::test::checked_file(
      (std::filesystem::path(SPDEC_SOURCE_DIR) / "library" / "perona_malik.spde").string()));
  CHECK(pm.reach_x == 2);
  CHECK(pm.reach_y == 2);
}

TEST_CASE("d g2/du of central differences is proven zero in the interior, not at a Neumann border",
          "[differentiate]") {
  const auto p = program_of(spec("0", "1 / sqrt(1 + norm2(grad(u)))"));
  CHECK(p.graph[p.diffusion_du.interior].is_constant(0));  // nothing is emitted there
  CHECK_FALSE(p.graph[p.diffusion_du.general].is_constant());
  CHECK(contains_kind(p, p.diffusion_du.general, Kind::indicator));
}

TEST_CASE("d g2/du of a g2 that reads u itself is not zero", "[differentiate]") {
  const auto p = program_of(spec("0", "1 + 0.1 * u^2"));
  CHECK_FALSE(p.graph[p.diffusion_du.interior].is_constant());
  // 0.2 u in the interior: no indicator left.
  CHECK_FALSE(contains_kind(p, p.diffusion_du.interior, Kind::indicator));
}

TEST_CASE("additive noise and noise read from u0 have a zero derivative everywhere",
          "[differentiate]") {
  for (const char* g2 : {"2", "1 / (1 + norm2(sobel(u0)))"}) {
    INFO(g2);
    const auto p = program_of(spec("-u", g2));
    CHECK(p.graph[p.diffusion_du.general].is_constant(0));
    CHECK(p.graph[p.diffusion_du.interior].is_constant(0));
  }
}

TEST_CASE("coupled channels sum reductions over channels", "[lower]") {
  const std::string drift = "div(1 / (1 + norm2(grad(u))) * grad(u))";
  const auto coupled = program_of(spec(drift, "1", "channels coupled"));
  const auto independent = program_of(spec(drift));
  CHECK(contains_kind(coupled, coupled.drift.general, Kind::channel_sum));
  CHECK_FALSE(contains_kind(independent, independent.drift.general, Kind::channel_sum));
}

TEST_CASE("Dirichlet ghosts carry the boundary value, derivatives a zero ghost", "[lower]") {
  const auto p = program_of(spec("lap(u)", "1 + u^2", "boundary dirichlet 0.25"));
  bool found = false;
  for (const NodeId id : topological_order(p.graph, {p.drift.general})) {
    if (p.graph[id].kind == Kind::at) {
      CHECK(p.graph[id].value == 0.25);
      found = true;
    }
  }
  CHECK(found);
}

TEST_CASE("the pipeline runs its passes in order, dumps and times them", "[pipeline]") {
  std::vector<std::string> seen;
  PipelineOptions options;
  options.after_pass = [&](std::string_view pass, const StencilProgram&) {
    seen.emplace_back(pass);
  };
  std::vector<PassTiming> timings;
  (void)build_program(spdec::test::checked(spec("lap(u)")), options, &timings);
  CHECK(seen ==
        std::vector<std::string>{"lower", "differentiate", "fed", "specialize_interior", "verify"});
  REQUIRE(timings.size() == 5);
  for (const auto& t : timings) CHECK(t.seconds >= 0);
}

TEST_CASE("no text of the .spde reaches generated code", "[emit]") {
  const auto p = program_of(
      "process secret_process\nparam secret_param = 2\nschedule secret_schedule(t) = 1 + t\n"
      "secret_function(v) = v * secret_param\n"
      "drift = secret_schedule(t) * secret_function(lap(u))\ndiffusion = 1\n"
      "time T = 1, dt = 0.01\n");
  for (const Target target : {Target::cpu, Target::cuda}) {
    const std::string source = emit(p, target);
    CHECK_THAT(source, !Catch::Contains("secret_param"));
    CHECK_THAT(source, !Catch::Contains("secret_schedule"));
    CHECK_THAT(source, !Catch::Contains("secret_function"));
    CHECK_THAT(source, Catch::Contains("// process secret_process"));  // mangled: identifiers only
  }
  CHECK(mangle("a-b c") == "a_b_c");
  CHECK(mangle("") == "_");
}

TEST_CASE("float literals round-trip and spell inf and nan without headers", "[emit]") {
  CHECK(float_literal(1.0) == "1.0f");
  CHECK(float_literal(-0.5) == "(-0.5f)");
  CHECK(float_literal(INFINITY) == "SPDEC_INF");
  CHECK(float_literal(1e300) == "SPDEC_INF");  // beyond float
  CHECK(float_literal(NAN) == "SPDEC_NAN");
  CHECK(std::stof(float_literal(0.1).substr(0, float_literal(0.1).size() - 1)) == 0.1f);
}

TEST_CASE("fed: the lagged drift reads the frozen state in the conductance only, hoisted",
          "[fed]") {
  // Perona-Malik in flux form: A(v)u is linear in u; the four neighbour
  // conductances of scheme paper (each with its own raw offsets) become
  // cached fields, and the step reads u only through differences.
  const auto pm = spdec::codegen::build_program(spdec::test::checked_file(
      (std::filesystem::path(SPDEC_SOURCE_DIR) / "library" / "perona_malik.spde").string()));
  REQUIRE(pm.fed.available);
  CHECK(pm.fed.cached.size() == 4);
  CHECK((pm.graph[pm.fed.lagged.general].depends & depends_frozen) != 0);
  CHECK((pm.graph[pm.fed.step.general].depends & depends_u) != 0);
  for (const Root& k : pm.fed.cached) {
    CHECK((pm.graph[k.general].depends & depends_u) == 0);
    CHECK((pm.graph[k.general].depends & depends_frozen) != 0);
  }
  // The drift itself is untouched: it reads u in the conductance.
  CHECK((pm.graph[pm.drift.general].depends & depends_frozen) == 0);
  for (const Target target : {Target::cpu, Target::cuda}) {
    const std::string source = emit(pm, target);
    CHECK_THAT(source,
               Catch::Contains(target == Target::cpu ? "spdec_fed_steps" : "spdec_fed_update"));
    if (target == Target::cuda) CHECK_THAT(source, Catch::Contains("spdec_fed_cache"));
  }
  // Linear drifts: the operator is the drift, nothing to cache.
  const auto heat = program_of(spec("(1 + t) * lap(u)"));
  REQUIRE(heat.fed.available);
  CHECK(heat.fed.cached.empty());
  CHECK(heat.fed.lagged.general == heat.drift.general);
  // The zero drift is the zero operator.
  CHECK(program_of(spec("0")).fed.available);
}

TEST_CASE("fed: drifts not linear in u once the conductances are lagged are refused", "[fed]") {
  for (const char* drift : {"lap(u) + u * (1 - u * u)", "lap(u) + 1", "norm(grad(u))",
                            "div(grad(u) * u + grad(u))", "exp(u)", "lap(u * u)"}) {
    INFO(drift);
    const auto p = program_of(spec(drift));
    CHECK_FALSE(p.fed.available);
    CHECK_FALSE(p.fed.refusal.empty());
    CHECK_THAT(emit(p, Target::cpu), !Catch::Contains("spdec_fed_steps"));
  }
  // A conductance of u itself (not only of its gradient) is lagged too.
  CHECK(program_of(spec("div(exp(-u * u) * grad(u))")).fed.available);
}
