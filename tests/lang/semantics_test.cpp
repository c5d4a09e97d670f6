// Names, shapes, stages, IEEE folding, ddt, classification and warnings.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "lang/classify.hpp"
#include "lang/evaluate.hpp"
#include "lang/lint.hpp"
#include "tests/lang/test_support.hpp"

using spdec::lang::DriftClass;
using spdec::lang::EvalContext;
using spdec::lang::NoiseClass;
using spdec::test::check_path;
using spdec::test::check_text;
using spdec::test::source_dir;

namespace {

std::string with_basics(const std::string& drift, const std::string& diffusion,
                        const std::string& extra = "") {
  return "process p\n" + extra + "\ndrift = " + drift + "\ndiffusion = " + diffusion +
         "\ntime T = 2, t0 = 1e-3, dt = 1e-3\n";
}

spdec::lang::Process checked(const std::string& text) {
  auto r = check_text(text);
  if (!r.process) {
    FAIL("expected a valid process, got:\n" << spdec::lang::render_all(r.diagnostics));
  }
  return *r.process;
}

std::string first_error_code(const std::string& text) {
  const auto r = check_text(text);
  return r.first_error() != nullptr ? r.first_error()->code : std::string("none");
}

}  // namespace

TEST_CASE("IEEE folding: lambda1(T) is +inf and x / inf is 0", "[semantics][fold]") {
  const std::string pm_schedules =
      "param T = 2\nparam k = 0.5\nparam lambda_min = 0.025\n"
      "schedule lambda1(t) = lambda_min * (exp(k*T) - 1) / (exp(k*(T - t)) - 1)\n"
      "param at_T = lambda1(T)\n";
  const auto p = checked(with_basics("0", "1", pm_schedules));
  REQUIRE(p.find_param("at_T") != nullptr);
  CHECK(std::isinf(p.find_param("at_T")->value));
  CHECK(p.find_param("at_T")->value > 0);

  // The Perona–Malik diffusivity with lambda = inf folds to alpha: the drift is linear.
  const auto iso = checked(with_basics("div(g1(t, grad(u)) * grad(u))", "0.1",
                                       "param lambda = inf\n"
                                       "g1(t, x) = 2 / sqrt(1 + norm2(x / lambda))\n"));
  CHECK(iso.classification.drift == DriftClass::linear);
  CHECK(iso.classification.drift_spectral);
  CHECK(iso.classification.exact_marginals);

  const auto aniso = checked(with_basics("div(g1(t, grad(u)) * grad(u))", "0.1",
                                         "param lambda = 0.5\n"
                                         "g1(t, x) = 2 / sqrt(1 + norm2(x / lambda))\n"));
  CHECK(aniso.classification.drift == DriftClass::quasilinear);
}

TEST_CASE("a constant lambda = inf folds to isotropy before classification", "[semantics][fold]") {
  // LANGUAGE.md 8.3: field values are finite, so grad(u) / inf folds to 0 and
  // g2 to alpha2(t): additive noise, exactly the folded form of alpha2(t).
  const std::string alpha2 = "schedule alpha2(t) = geometric(0.01, 0.5, t / 2)\n";
  const auto folded =
      checked(with_basics("alpha2(t) * lap(u)", "alpha2(t) / sqrt(1 + norm2(grad(u) / lambda2))",
                          alpha2 + "param lambda2 = inf\n"));
  const auto written = checked(with_basics("alpha2(t) * lap(u)", "alpha2(t)", alpha2));
  CHECK(spdec::lang::to_string(folded.diffusion) == spdec::lang::to_string(written.diffusion));
  CHECK(folded.diffusion->reads == written.diffusion->reads);
  CHECK(folded.classification.noise == NoiseClass::additive);
  CHECK(folded.classification.exact_marginals);

  // A finite lambda2 keeps the noise multiplicative; a lambda that reaches inf
  // only at T is time stage and is not folded.
  const auto finite =
      checked(with_basics("alpha2(t) * lap(u)", "alpha2(t) / sqrt(1 + norm2(grad(u) / lambda2))",
                          alpha2 + "param lambda2 = 0.5\n"));
  CHECK(finite.classification.noise == NoiseClass::multiplicative);
  const auto at_T =
      checked(with_basics("alpha2(t) * lap(u)", "alpha2(t) / sqrt(1 + norm2(grad(u) / lambda2(t)))",
                          alpha2 + "schedule lambda2(t) = 0.1 / (2 - t)\n"));
  CHECK(at_T.classification.noise == NoiseClass::multiplicative);
}

TEST_CASE("constants fold exactly in double precision", "[semantics][fold]") {
  const auto p =
      checked(with_basics("0", "1",
                          "param a = 0x1.8p3 + 1e-3 * 1000\nparam b = 2^-1\n"
                          "param c = -2^2\nparam d = clamp(5, 0, 1) + select(1 < 2, 10, 20)\n"
                          "param e = geometric(0.5, 64, 1)\nparam f = poly(1, 3, 0.5, 2)\n"
                          "param g = 0 / 0 != 0 / 0\nparam h = 1 / 0\n"));
  CHECK(p.find_param("a")->value == 13.0);
  CHECK(p.find_param("b")->value == 0.5);
  CHECK(p.find_param("c")->value == -4.0);
  CHECK(p.find_param("d")->value == 11.0);
  CHECK(p.find_param("e")->value == Approx(64.0).epsilon(1e-15));
  CHECK(p.find_param("f")->value == 1.5);
  CHECK(p.find_param("g")->value == 1.0);  // NaN != NaN
  CHECK(std::isinf(p.find_param("h")->value));
}

TEST_CASE("ddt matches a central finite difference of the schedule", "[semantics][ddt]") {
  // Each schedule s(t); `d` is ddt(s(t)). Compared at several times.
  const std::vector<std::string> schedules = {
      "geometric(0.01, 50, t)^2",
      "0.1 + t * (20 - 0.1)",
      "sin(3 * t) * exp(-t) / (1 + t^2)",
      "sqrt(1 + t) * log(2 + t) - tanh(t) + sigmoid(2 * t)",
      "min(t, 0.5) + max(t^2, 0.3) + abs(t - 0.7)",
      "poly(0.5, 64, t / 2, 3) / linear(1, 2, t)",
      "(1 + t)^(t / 2)",
      "norm2(vec(t, 2 * t)) + dot(vec(1, t), vec(t, 1)) + norm(vec(t, 1))",
  };
  for (const std::string& s : schedules) {
    INFO(s);
    for (double t : {0.13, 0.45, 0.8, 1.6}) {
      const double h = 1e-5;
      const auto q = checked(with_basics("0", "1",
                                         "schedule s(t) = " + s +
                                             "\nschedule d(t) = ddt(s(t))\n"
                                             "param v = d(" +
                                             std::to_string(t) +
                                             ")\n"
                                             "param plus = s(" +
                                             std::to_string(t + h) +
                                             ")\n"
                                             "param minus = s(" +
                                             std::to_string(t - h) + ")\n"));
      const double derivative = q.find_param("v")->value;
      const double difference =
          (q.find_param("plus")->value - q.find_param("minus")->value) / (2 * h);
      // Central differences err by O(h^2 s''') ~ 1e-10 here, rounding by
      // O(eps |s| / h) ~ 1e-11 |s|: 1e-6 relative is far above both.
      CHECK(derivative == Approx(difference).epsilon(1e-6).margin(1e-9));
    }
  }
}

TEST_CASE("ddt of a field or a learnable schedule is an error", "[semantics][ddt]") {
  CHECK(first_error_code(with_basics("ddt(u)", "1")) == "E031");
  CHECK(first_error_code(with_basics("0", "ddt(g(t))",
                                     "schedule g(t) = learnable knots(4) init 1 + t\n")) == "E031");
}

TEST_CASE("shape errors name the offending operand", "[semantics][shape]") {
  CHECK(first_error_code(with_basics("grad(u)", "1")) == "E020");
  CHECK(first_error_code(with_basics("div(u)", "1")) == "E021");
  CHECK(first_error_code(with_basics("dot(grad(u), grad(u)) * (grad(u) * grad(u))", "1")) ==
        "E022");
  CHECK(first_error_code(with_basics("u + grad(u)", "1")) == "E022");
  CHECK(first_error_code(with_basics("exp(grad(u))", "1")) == "E020");
  CHECK(first_error_code(with_basics("norm(u)", "1")) == "E021");
  CHECK(first_error_code(with_basics("select(u > 0, u, grad(u))", "1")) == "E022");
  // Vectors where they belong are fine.
  CHECK(first_error_code(with_basics("div(grad(u) / (1 + norm(grad(u))))", "1")) == "none");
}

TEST_CASE("names, arity, recursion and stages", "[semantics]") {
  CHECK(first_error_code(with_basics("alpah * u", "1", "param alpha = 1\n")) == "E010");
  CHECK(first_error_code(with_basics("lapp(u)", "1")) == "E012");
  CHECK(first_error_code(with_basics("lap(u, u)", "1")) == "E013");
  CHECK(first_error_code(with_basics("f(u)", "1", "f(a, b) = a * b\n")) == "E013");
  CHECK(first_error_code(with_basics("f(u)", "1", "f(a) = g(a)\ng(a) = f(a)\n")) == "E014");
  CHECK(first_error_code(with_basics("0", "1", "param a = b\nparam b = a\n")) == "E014");
  CHECK(first_error_code(with_basics("0", "1", "param a = 1\nparam a = 2\n")) == "E011");
  CHECK(first_error_code(with_basics("0", "1", "exp(x) = x\n")) == "E011");
  CHECK(first_error_code(with_basics("0", "1", "param a = t\n")) == "E030");
  CHECK(first_error_code(with_basics("0", "1", "schedule s(t) = u * t\n")) == "E030");
  CHECK(first_error_code(with_basics("s(u) * u", "1", "schedule s(t) = t\n")) == "E030");
  CHECK(first_error_code(with_basics("shift(u, 0.5, 0)", "1")) == "E045");
  CHECK(first_error_code(with_basics("u", "1")) == "none");
  // Function parameters shadow the fields they are named after.
  CHECK(first_error_code(with_basics("div(g(t, grad(u)) * grad(u))", "1",
                                     "g(t, x) = 1 / (1 + norm2(x))\n")) == "none");
}

TEST_CASE("settings are validated", "[semantics][settings]") {
  const auto bad_time = [](const std::string& time) {
    return first_error_code("process p\ndrift = 0\ndiffusion = 1\ntime " + time + "\n");
  };
  CHECK(bad_time("T = 1, dt = 0") == "E043");
  CHECK(bad_time("T = 1, t0 = 1, dt = 0.1") == "E043");
  CHECK(bad_time("T = 1, dt = 0.1, taming = -1") == "E043");
  CHECK(bad_time("T = 1, dt = 2") == "E043");
  CHECK(bad_time("T = 1") == "E040");
  CHECK(bad_time("T = 1, T = 2, dt = 0.1") == "E041");
  CHECK(bad_time("T = 1, dt = 0.1, taming = off") == "none");
  CHECK(first_error_code(with_basics("0", "1", "noise correlation_length = -1\n")) == "E046");
  CHECK(first_error_code(with_basics("0", "1", "noise correlation_length = 1, filter(k) = k\n")) ==
        "E046");
  CHECK(first_error_code(with_basics("0", "1", "noise filter(k) = u\n")) == "E030");
  CHECK(first_error_code(with_basics("0", "1", "schedule g(t) = learnable knots(1) init 1\n")) ==
        "E044");
  CHECK(first_error_code(
            with_basics("0", "g(t)", "schedule g(t) = learnable knots(8) init t - 1\n")) == "E044");
  CHECK(first_error_code(with_basics("0", "1", "semantics decouple\n")) == "E045");
}

TEST_CASE("parameter overrides replace values and are checked", "[semantics][overrides]") {
  const std::string text = with_basics("a * lap(u)", "1", "param a = 2\nparam size = 32\n");
  const auto r = check_text(text, {{"size", "2 * 32"}});
  REQUIRE(r.process.has_value());
  CHECK(r.process->find_param("size")->value == 64.0);
  CHECK(r.process->find_param("size")->overridden);
  CHECK_FALSE(r.process->find_param("a")->overridden);

  const auto unknown = check_text(text, {{"sise", "64"}});
  REQUIRE(unknown.first_error() != nullptr);
  CHECK(unknown.first_error()->code == "E050");
  CHECK(unknown.first_error()->hint.find("size") != std::string::npos);

  const auto invalid = check_text(text, {{"size", "64 +"}});
  CHECK_FALSE(invalid.process.has_value());
  const auto field = check_text(text, {{"size", "u"}});
  REQUIRE(field.first_error() != nullptr);
  CHECK(field.first_error()->code == "E030");
}

TEST_CASE("drift classification rules (appendix G)", "[semantics][classify]") {
  const std::map<std::string, DriftClass> cases = {
      {"0", DriftClass::linear},
      {"-0.5 * u", DriftClass::linear},
      {"2 * lap(u) + 3 * u", DriftClass::linear},
      {"dx(u) + x * lap(u)", DriftClass::linear},
      {"lap(u) + sin(u)", DriftClass::semilinear},
      {"lap(u) + norm2(grad(u))", DriftClass::semilinear},
      {"div(1 / sqrt(1 + norm2(grad(u))) * grad(u))", DriftClass::quasilinear},
      {"u * lap(u)", DriftClass::quasilinear},
      {"lap(u)^2", DriftClass::nonlinear},
      {"lap(u) * lap(u) + u", DriftClass::nonlinear},
  };
  for (const auto& [drift, expected] : cases) {
    INFO(drift);
    CHECK(checked(with_basics(drift, "1")).classification.drift == expected);
  }
  CHECK(checked(with_basics("2 * lap(u) - u", "1")).classification.drift_spectral);
  CHECK_FALSE(checked(with_basics("dx(u)", "1")).classification.drift_spectral);
  CHECK_FALSE(checked(with_basics("x * lap(u)", "1")).classification.drift_spectral);
}

TEST_CASE("every library process classifies as its source says", "[semantics][classify][library]") {
  struct Expected {
    DriftClass drift;
    NoiseClass noise;
    bool reads_u0;
    const char* auto_objective;  // nullptr: nothing to train
  };
  const std::map<std::string, Expected> expected = {
      {"perona_malik", {DriftClass::quasilinear, NoiseClass::additive, false, "decoupled"}},
      {"perona_malik_sde", {DriftClass::quasilinear, NoiseClass::additive, false, "local_dsm"}},
      {"heat", {DriftClass::linear, NoiseClass::additive, false, "exact"}},
      {"fig1_isotropic_drift_anisotropic_noise",
       {DriftClass::linear, NoiseClass::multiplicative, false, "local_dsm"}},
      {"fig1_anisotropic_drift_no_noise",
       {DriftClass::quasilinear, NoiseClass::none, false, nullptr}},
      {"fig1_anisotropic_drift_anisotropic_noise",
       {DriftClass::quasilinear, NoiseClass::multiplicative, false, "local_dsm"}},
      {"ve", {DriftClass::linear, NoiseClass::additive, false, "exact"}},
      {"edm", {DriftClass::linear, NoiseClass::additive, false, "exact"}},
      {"vp", {DriftClass::linear, NoiseClass::additive, false, "exact"}},
      {"ihdm", {DriftClass::linear, NoiseClass::additive, false, "exact"}},
      {"blurring", {DriftClass::linear, NoiseClass::additive, false, "exact"}},
      {"edge_preserving", {DriftClass::linear, NoiseClass::additive, true, "decoupled"}},
      {"hdm", {DriftClass::linear, NoiseClass::additive, false, "exact"}},
      {"two_subspace", {DriftClass::linear, NoiseClass::additive, false, "exact"}},
      {"edge_enhancing", {DriftClass::quasilinear, NoiseClass::additive, false, "decoupled"}},
      {"coherence_enhancing", {DriftClass::quasilinear, NoiseClass::additive, false, "decoupled"}},
  };
  for (const auto& [name, e] : expected) {
    INFO(name);
    const auto r = check_path(source_dir() / "library" / (name + ".spde"));
    REQUIRE(r.process.has_value());
    const auto& c = r.process->classification;
    CHECK(c.drift == e.drift);
    CHECK(c.noise == e.noise);
    CHECK(c.reads_u0 == e.reads_u0);
    const auto automatic = r.process->training.automatic_objective();
    if (e.auto_objective == nullptr) {
      CHECK_FALSE(automatic.has_value());
      CHECK_FALSE(r.process->training.trainable());
      CHECK(r.has_warning("W101"));
    } else {
      REQUIRE(automatic.has_value());
      CHECK(std::string(spdec::lang::name(*automatic)) == e.auto_objective);
    }
  }
}

TEST_CASE("the paper's constants fold as in section 5.2", "[semantics][library]") {
  const auto r = check_path(source_dir() / "library/perona_malik.spde", {{"size", "32"}});
  REQUIRE(r.process.has_value());
  const auto& p = *r.process;
  CHECK(p.time.T == 2.0);
  CHECK(p.time.dt == 1e-3);
  REQUIRE(p.time.taming.has_value());
  CHECK(*p.time.taming == 1.0);
  // Stability bound: the diffusivity peaks at a flat state at alpha1(T) = 2 * size.
  const auto bound = spdec::lang::stability_bound(p);
  REQUIRE(bound.has_value());
  CHECK(bound->max_diffusivity == Approx(64.0).epsilon(1e-12));
  CHECK(bound->at_time == Approx(2.0));
  CHECK(bound->ratio(p.time.dt) == Approx(0.256));
}

TEST_CASE("warnings: unstable step, unused definitions, no noise", "[semantics][lint]") {
  const auto unstable =
      check_text("process p\ndrift = 500 * lap(u)\ndiffusion = 1\ntime T = 1, dt = 0.01\n");
  REQUIRE(unstable.process.has_value());
  CHECK(unstable.has_warning("W102"));
  const auto stable =
      check_text("process p\ndrift = 5 * lap(u)\ndiffusion = 1\ntime T = 1, dt = 0.01\n");
  CHECK_FALSE(stable.has_warning("W102"));
  const auto unused = check_text(with_basics("0", "1", "param spare = 3\nf(x) = x\n"));
  CHECK(unused.has_warning("W103"));
  CHECK(check_text(with_basics("lap(u)", "0")).has_warning("W101"));
  CHECK(check_text("process p\ndrift = lap(u)\ndiffusion = 1\ntime T = 1, dt = 0.01, taming = 1\n")
            .has_warning("W105"));
}

// W103 in a file with errors: elaboration stops early, so only what the file
// never mentions is certainly unused; a definition that an error's hint and
// note already name as unused is not warned twice.
TEST_CASE("warnings: unused definitions are reported beside errors", "[semantics][lint]") {
  const auto spare = check_text(with_basics("gard(u)", "1",
                                            "param spare = 3\nparam used = 2\n"
                                            "f(x) = used * x\n"));
  REQUIRE_FALSE(spare.process.has_value());
  std::vector<std::string> warned;
  for (const auto& d : spare.diagnostics.all()) {
    if (d.severity == spdec::lang::Severity::warning && d.code == "W103")
      warned.push_back(d.message);
  }
  // `spare` is never mentioned; `f` is unused but mentions `used`, which
  // then counts as mentioned (a conservative reading: no false W103).
  CHECK(warned ==
        std::vector<std::string>{"parameter `spare` is never used", "function `f` is never used"});

  const auto orphan = check_text(
      with_basics("sigma_max * lap(u)", "sigma_min", "param sigmax = 1\nparam sigma_min = 0.1\n"));
  REQUIRE_FALSE(orphan.process.has_value());
  CHECK_FALSE(orphan.has_warning("W103"));  // the E010 note shows `sigmax` already
}

TEST_CASE("learnable knots interpolate log-linearly", "[semantics][learnable]") {
  const auto p = checked(
      "process p\nschedule g(t) = learnable knots(5) init geometric(0.01, 1, t)\n"
      "drift = 0\ndiffusion = sqrt(g(t))\ntime T = 1, dt = 0.01\n");
  REQUIRE(p.learnables.size() == 1);
  const auto& l = p.learnables[0];
  CHECK(l.knot_times.size() == 5);
  CHECK(l.knot_times.front() == 0.0);
  CHECK(l.knot_times.back() == 1.0);
  // A geometric schedule is exactly log-linear, so interpolation reproduces it.
  for (double t : {0.1, 0.33, 0.5, 0.9}) {
    CHECK(spdec::lang::interpolate_log_linear(l.knot_times, l.init_values, t) ==
          Approx(0.01 * std::pow(100.0, t)).epsilon(1e-12));
  }
}
