// The training plan (lang/training_plan.hpp): which model, which exact
// objectives, what auto picks, and the refusals — for the cases the plan
// distinguishes, including the two the runtime and check used to disagree on.
#include "lang/training_plan.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "tests/lang/test_support.hpp"

using spdec::lang::ModelKind;
using spdec::lang::ObjectiveKind;
using spdec::lang::Parameterisation;
using spdec::lang::TrainingPlan;

namespace {

TrainingPlan plan_of(const std::string& drift, const std::string& diffusion,
                     const std::string& extra = "") {
  const auto r = spdec::test::check_text(
      "process p\nparam lambda = 0.5\n"
      "g(t, v) = 1 / sqrt(1 + norm2(v / lambda))\n" +
      extra + "\ndrift = " + drift + "\ndiffusion = " + diffusion +
      "\ntime T = 1, t0 = 1e-3, dt = 1e-2\n");
  if (!r.process) FAIL(spdec::lang::render_all(r.diagnostics));
  return r.process->training;
}

std::string names(const std::vector<ObjectiveKind>& objectives) {
  std::string out;
  for (const ObjectiveKind o : objectives) out += std::string(out.empty() ? "" : ",") + name(o);
  return out;
}

}  // namespace

TEST_CASE("training plan: linear spectral processes are exact under either semantics",
          "[training_plan]") {
  const TrainingPlan sde = plan_of("lap(u)", "1");
  CHECK(sde.model == ModelKind::linear);
  CHECK(names(sde.exact_objectives) == "exact,sliced");
  CHECK(sde.automatic_objective() == ObjectiveKind::exact);
  CHECK(sde.automatic_parameterisation(ObjectiveKind::exact) == Parameterisation::denoiser);
  CHECK_FALSE(sde.accepts(ObjectiveKind::local_dsm));
  CHECK_THAT(sde.why_not(ObjectiveKind::local_dsm),
             Catch::Contains("closed-form marginals") && Catch::Contains("exact, sliced"));

  // Linear drift + additive noise + decoupled: the same closed form, and
  // `decoupled` is accepted on it (check used to say exact while the runtime
  // refused it).
  const TrainingPlan decoupled = plan_of("lap(u)", "1", "semantics decoupled\n");
  CHECK(decoupled.model == ModelKind::linear);
  CHECK(names(decoupled.exact_objectives) == "exact,decoupled,sliced");
  CHECK(decoupled.automatic_objective() == ObjectiveKind::exact);
  CHECK(decoupled.accepts(ObjectiveKind::decoupled));
}

TEST_CASE("training plan: auto predicts noise where every mode has the same multiplier",
          "[training_plan]") {
  // VE (no drift) and VP (c(t)·u): M_t = m(t)·I, nothing erased before the
  // rest, so ε is well-conditioned; a stencil in the drift gives each mode its
  // own rate (heat's finest mode: m = e^-188 at T) and auto keeps the denoiser.
  for (const char* drift : {"0", "-0.5 * (1 + 9 * t) * u"}) {
    const TrainingPlan plan = plan_of(drift, "1");
    INFO(drift);
    CHECK(plan.model == ModelKind::linear);
    CHECK(plan.uniform_scales);
    CHECK(plan.automatic_parameterisation(ObjectiveKind::exact) == Parameterisation::noise);
    CHECK(plan.why_not(Parameterisation::denoiser, ObjectiveKind::exact).empty());
  }
  for (const char* drift : {"lap(u)", "lap(u) - 0.5 * u"}) {
    const TrainingPlan plan = plan_of(drift, "1");
    INFO(drift);
    CHECK_FALSE(plan.uniform_scales);
    CHECK(plan.automatic_parameterisation(ObjectiveKind::exact) == Parameterisation::denoiser);
  }
}

TEST_CASE("training plan: decoupled semantics, additive and multiplicative noise",
          "[training_plan]") {
  const TrainingPlan additive =
      plan_of("div(g(t, grad(u)) * grad(u))", "1", "semantics decoupled\n");
  CHECK(additive.model == ModelKind::decoupled);
  CHECK(names(additive.exact_objectives) == "decoupled,sliced");
  CHECK(additive.per_mode_scales);
  CHECK(additive.shared_variance);
  CHECK(additive.automatic_parameterisation(ObjectiveKind::decoupled) ==
        Parameterisation::denoiser);

  // Multiplicative white noise: trainable (the variance accumulates along the
  // flow of x0), but without x0-free scales the network predicts noise.
  const TrainingPlan white =
      plan_of("div(g(t, grad(u)) * grad(u))", "g(t, grad(u))", "semantics decoupled\n");
  CHECK(white.trainable());
  CHECK(white.model == ModelKind::decoupled);
  CHECK(names(white.exact_objectives) == "decoupled,sliced");
  CHECK_FALSE(white.shared_variance);
  CHECK_FALSE(white.per_mode_scales);
  CHECK(white.automatic_parameterisation(ObjectiveKind::decoupled) == Parameterisation::noise);
  CHECK_THAT(white.why_not(Parameterisation::denoiser, ObjectiveKind::decoupled),
             Catch::Contains("depends on x0"));

  // Multiplicative correlated noise: no Gaussian form; nothing trains.
  const TrainingPlan correlated = plan_of("div(g(t, grad(u)) * grad(u))", "g(t, grad(u))",
                                          "semantics decoupled\nnoise correlation_length = 2\n");
  CHECK_FALSE(correlated.trainable());
  CHECK_FALSE(correlated.automatic_objective().has_value());
  CHECK(correlated.accepted_objectives().empty());
  CHECK_THAT(correlated.why_not(ObjectiveKind::sliced), Catch::Contains("correlated"));
}

TEST_CASE("training plan: sde semantics and processes without noise", "[training_plan]") {
  const TrainingPlan sde = plan_of("div(g(t, grad(u)) * grad(u))", "g(t, grad(u))");
  CHECK(sde.model == ModelKind::sde);
  CHECK(names(sde.exact_objectives) == "local_dsm,sliced");
  CHECK(sde.automatic_parameterisation(ObjectiveKind::local_dsm) == Parameterisation::noise);
  CHECK_THAT(sde.why_not(Parameterisation::denoiser, ObjectiveKind::local_dsm),
             Catch::Contains("exact or decoupled"));
  CHECK_THAT(sde.why_not(ObjectiveKind::decoupled), Catch::Contains("`semantics decoupled`"));
  CHECK(sde.accepts(ObjectiveKind::flow_matching));

  const TrainingPlan silent = plan_of("lap(u)", "0");
  CHECK_FALSE(silent.trainable());
  CHECK_FALSE(silent.accepts(ObjectiveKind::flow_matching));
  CHECK_THAT(silent.refusal, Catch::Contains("no noise"));
}

TEST_CASE("enumeration tables round-trip their names", "[training_plan][enum_table]") {
  for (const auto& e : spdec::lang::kObjectiveKinds.entries()) {
    CHECK(spdec::lang::kObjectiveKinds.parse(e.name) == e.value);
    CHECK(std::string(name(e.value)) == std::string(e.name));
  }
  CHECK_FALSE(spdec::lang::kObjectiveKinds.parse("dsm").has_value());
  CHECK(spdec::lang::kObjectiveKinds.choices() ==
        "exact | decoupled | local_dsm | sliced | flow_matching");
  CHECK(spdec::lang::kModelKinds.parse("sde") == ModelKind::sde);
  CHECK(spdec::lang::kParameterisations.names() == std::vector<std::string>{"denoiser", "noise"});
}

TEST_CASE("training plan: an sde chain without a closed form says why, Gaussian or not",
          "[training_plan]") {
  const auto reasons = [](const TrainingPlan& plan) {
    std::string all;
    for (const std::string& r : plan.reasons) all += r + "\n";
    return all;
  };
  using Catch::Contains;
  // Untamed, linear, additive: the chain is Gaussian, only the per-mode
  // closed form is missing (here because of the dirichlet boundary).
  const TrainingPlan dirichlet = plan_of("lap(u)", "1", "boundary dirichlet 0\n");
  CHECK(dirichlet.model == ModelKind::sde);
  CHECK_THAT(reasons(dirichlet), Contains("chain is Gaussian") && Contains("dirichlet") &&
                                     !Contains("no Gaussian marginal"));
  CHECK_THAT(reasons(plan_of("lap(u) + x", "1")),
             Contains("chain is Gaussian") && Contains("not a(t) lap(u) + c(t) u"));
  CHECK_THAT(reasons(plan_of("lap(u)", "1 + x")),
             Contains("chain is Gaussian") && Contains("noise varies in space"));
  // Nonlinear drift or multiplicative noise: not Gaussian.
  CHECK_THAT(reasons(plan_of("lap(u) - u^3", "1")),
             Contains("no Gaussian marginal: the drift is semilinear"));
  CHECK_THAT(reasons(plan_of("lap(u)", "g(t, grad(u))")),
             Contains("no Gaussian marginal: the noise reads u"));
}

TEST_CASE("classification notes: a dirichlet boundary value shifts the mean only when nonzero",
          "[training_plan]") {
  const auto notes = [](const std::string& boundary) {
    const auto r = spdec::test::check_text("process p\nboundary " + boundary +
                                           "\ndrift = lap(u)\ndiffusion = 1\n"
                                           "time T = 1, t0 = 1e-3, dt = 1e-2\n");
    if (!r.process) FAIL(spdec::lang::render_all(r.diagnostics));
    std::string all;
    for (const std::string& n : r.process->classification.notes) all += n + "\n";
    return all;
  };
  using Catch::Contains;
  CHECK_THAT(notes("dirichlet 0"),
             Contains("not diagonal in the DCT-II") && !Contains("shifts the mean"));
  CHECK_THAT(notes("dirichlet 0.5"),
             Contains("not diagonal in the DCT-II") && Contains("0.5 shifts the mean"));
  CHECK(notes("neumann").empty());
}
