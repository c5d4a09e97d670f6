// The drift's pointwise linear rate (lang/linear_rate.hpp): c(t) in
// drift = c(t)·u + terms that read u only through stencils, the rate at
// which the decoupled reading's noise decays. Each case's c is evaluated at
// t = 0.3 against the value worked out by hand from the drift.
#include "lang/linear_rate.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "lang/evaluate.hpp"
#include "tests/lang/test_support.hpp"

namespace {

spdec::lang::Process process_of(const std::string& drift, const std::string& extra = "") {
  const auto r = spdec::test::check_text(
      "process p\nschedule beta(t) = linear(0.1, 20, t)\n"
      "g(t, v) = 1 / sqrt(1 + norm2(v))\n" +
      extra + "drift = " + drift + "\ndiffusion = 1\ntime T = 1, t0 = 1e-3, dt = 1e-2\n");
  if (!r.process) FAIL(spdec::lang::render_all(r.diagnostics));
  return *r.process;
}

spdec::lang::LinearRate rate_of(const std::string& drift) {
  const spdec::lang::Process process = process_of(drift);
  return spdec::lang::linear_rate(process.drift, process.file);
}

double at_03(const spdec::lang::LinearRate& rate) {
  REQUIRE(rate.rate);
  return spdec::lang::evaluate_scalar(rate.rate, spdec::lang::EvalContext{0.3});
}

}  // namespace

TEST_CASE("linear rate: the coefficient of the bare u terms", "[linear_rate]") {
  const double beta = 0.1 + (20 - 0.1) * 0.3;
  CHECK(at_03(rate_of("-0.5 * beta(t) * u")) == Approx(-0.5 * beta).epsilon(1e-14));
  CHECK(at_03(rate_of("lap(u) - 2 * u + u0")) == Approx(-2.0).epsilon(1e-14));
  CHECK(at_03(rate_of("-(u / 4) + 3 * (u - lap(u))")) == Approx(2.75).epsilon(1e-14));
  CHECK(at_03(rate_of("exp(-t) * u - u + div(g(t, grad(u)) * grad(u))")) ==
        Approx(std::exp(-0.3) - 1.0).epsilon(1e-14));
  CHECK(at_03(rate_of("(1 - u) * beta(t)")) == Approx(-beta).epsilon(1e-14));
}

TEST_CASE("linear rate: stencils belong to the flow", "[linear_rate]") {
  for (const char* drift :
       {"lap(u)", "div(g(t, grad(u)) * grad(u))", "0.5 * dx(u) + u0", "norm2(sobel(u)) * lap(u)"}) {
    INFO(drift);
    const spdec::lang::LinearRate rate = rate_of(drift);
    CHECK_FALSE(rate.rate);
    CHECK(rate.refusal.empty());
  }
  // u - u cancels: no rate, and no refusal either.
  CHECK_FALSE(rate_of("u - u + lap(u)").rate);
}

TEST_CASE("linear rate: a bare u that is not c(t)*u is named", "[linear_rate]") {
  struct Case {
    const char* drift;
    const char* term;
  };
  for (const Case& c : {Case{"lap(u) + u - u * u * u", "u * u * u"}, Case{"x * u", "x * u"},
                        Case{"u * lap(u)", "u * lap(u)"}, Case{"-beta(t) * sin(u)", "sin(u)"},
                        Case{"u / (1 + t * u0)", "u / (1 + t * u0)"}}) {
    INFO(c.drift);
    const spdec::lang::LinearRate rate = rate_of(c.drift);
    CHECK_FALSE(rate.rate);
    CHECK_THAT(rate.refusal,
               Catch::Contains(std::string("`") + c.term + "`") && Catch::Contains("not c(t)*u"));
  }
}

TEST_CASE("linear rate: the decoupled reading says whether its noise decays", "[linear_rate]") {
  const auto notes_of = [](const spdec::lang::Process& process) {
    std::string all;
    for (const std::string& note : process.classification.notes) all += note + "\n";
    return all;
  };
  // Linear drift and additive noise: the exact linear model, no note needed.
  CHECK(notes_of(process_of("-0.5 * beta(t) * u", "semantics decoupled\n")).empty());
  const auto edge =
      spdec::test::check_path(spdec::test::source_dir() / "library" / "edge_preserving.spde");
  REQUIRE(edge.process);
  CHECK_THAT(notes_of(*edge.process),
             Catch::Contains("the noise decays at the drift's pointwise rate c(t) = "));
  CHECK_THAT(notes_of(process_of("lap(u) + u - u * u * u", "semantics decoupled\n")),
             Catch::Contains("the noise is added undamped") && Catch::Contains("`u * u * u`"));
}
