// check and training agree (issue: one owner for each decision). For every
// library process, every process of the good corpus and the two processes
// check and the runtime used to disagree on, the training plan that `spdec
// check` prints (lang/training_plan.hpp, through tools/spdec/process_json.cpp)
// is what training does: `train.objective = "auto"` trains the plan's first
// exact objective with the plan's parameterisation, every objective the plan
// accepts builds an objective whose loss on a draw is finite, and every other
// objective is refused with the plan's reason.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "lang/check.hpp"
#include "lang/diagnostics.hpp"
#include "runtime/process/bind.hpp"
#include "runtime/process/preconditioner.hpp"
#include "runtime/spectral/prior.hpp"
#include "runtime/training/objective.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
namespace rt = spdec::runtime;
using spdec::lang::ObjectiveKind;

namespace {

constexpr std::int64_t kSide = 8;

/// The two processes check promised and training refused before the plan:
/// linear drift + additive noise under decoupled semantics, and
/// multiplicative white noise under decoupled semantics (specs/LANGUAGE.md
/// §16's walkthrough process).
std::vector<fs::path> disputed_processes(const fs::path& dir) {
  const std::string common =
      "param lambda = 0.5\ng(t, v) = 1 / sqrt(1 + norm2(v / lambda))\n"
      "time T = 1, t0 = 1e-3, dt = 1e-2\nsemantics decoupled\n";
  const std::vector<std::pair<std::string, std::string>> texts = {
      {"linear_decoupled", "drift = lap(u)\ndiffusion = 1\n"},
      {"multiplicative_decoupled",
       "drift = div(g(t, grad(u)) * grad(u))\ndiffusion = g(t, grad(u))\n"},
  };
  std::vector<fs::path> out;
  for (const auto& [name, body] : texts) {
    const fs::path file = dir / (name + ".spde");
    std::ofstream(file) << "process " << name << "\n" << common << body;
    out.push_back(file);
  }
  return out;
}

std::vector<fs::path> process_files() {
  const fs::path source(SPDEC_SOURCE_DIR);
  std::vector<fs::path> files;
  for (const fs::path& dir : {source / "library", source / "tests/lang/corpus/good"}) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".spde") files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  const fs::path scratch = fs::temp_directory_path() / "spdec_training_plan_test";
  fs::create_directories(scratch);
  for (const fs::path& file : disputed_processes(scratch)) files.push_back(file);
  return files;
}

/// A draw of two images on the model's grid at times inside the objective's range.
rt::TrainingDraw draw_for(const rt::Objective& objective, const rt::ProcessModel& model) {
  rt::TrainingDraw draw;
  draw.x0 = at::rand({2, 1, model.height(), model.width()}, at::kFloat) * 2.0 - 1.0;
  const double lo = objective.min_time();
  const double hi = objective.max_time();
  draw.times = {lo + 0.3 * (hi - lo), lo + 0.8 * (hi - lo)};
  draw.seed = 7;
  draw.step = 1;
  return draw;
}

/// What train_run does for an objective, minus the optimiser: the choice,
/// the parameterisation, the objective and one loss.
void train_one_draw(rt::ProcessModel& model, ObjectiveKind kind) {
  const spdec::lang::TrainingPlan& plan = model.process().training;
  const rt::ObjectiveChoice choice = rt::choose_objective(kind, model);
  CHECK(choice.kind == kind);
  const rt::Parameterisation parameterisation =
      rt::choose_parameterisation(std::nullopt, kind, model);
  CHECK(parameterisation == plan.automatic_parameterisation(kind));
  const at::Tensor images = at::rand({16, 1, model.height(), model.width()}, at::kDouble);
  const rt::Preconditioner preconditioner(rt::gaussian_fit(images, model.noise().basis()));
  rt::ObjectiveOptions options;
  options.parameterisation = parameterisation;
  options.preconditioner = &preconditioner;
  const auto objective = rt::make_objective(kind, model, options);
  // A network that depends on x (sliced differentiates through it).
  const rt::Network network = [](const at::Tensor& x, const at::Tensor&) { return 0.5 * x; };
  const double loss = objective->loss(network, draw_for(*objective, model)).item<double>();
  CHECK(std::isfinite(loss));
}

}  // namespace

TEST_CASE("training plan: what check prints is what training does", "[training_plan]") {
  spdec::test::torch_setup();
  at::manual_seed(3);
  rt::Binding binding;
  binding.backend = spdec::config::Backend::compiled;
  std::size_t trained = 0;
  for (const fs::path& file : process_files()) {
    INFO(file.string());
    spdec::lang::Diagnostics diagnostics;
    const std::optional<spdec::lang::Process> process =
        spdec::lang::check_file_for_side(file.string(), kSide, {}, diagnostics);
    INFO(spdec::lang::render_all(diagnostics));
    REQUIRE(process.has_value());
    const spdec::lang::TrainingPlan& plan = process->training;
    if (!plan.trainable()) {
      CHECK_THROWS_WITH(rt::bind_file(file.string(), kSide, binding),
                        Catch::Contains(plan.refusal));
      continue;
    }
    rt::BoundProcess bound = rt::bind_file(file.string(), kSide, binding);
    rt::ProcessModel& model = *bound.model;
    CHECK(model.kind() == plan.model);
    CHECK(rt::choose_objective(std::nullopt, model).kind == plan.automatic_objective());
    for (const auto& entry : spdec::lang::kObjectiveKinds.entries()) {
      INFO(std::string(entry.name));
      if (plan.accepts(entry.value)) {
        train_one_draw(model, entry.value);
      } else {
        CHECK_THROWS_WITH(rt::choose_objective(entry.value, model),
                          Catch::Contains(plan.why_not(entry.value)));
      }
    }
    ++trained;
  }
  CHECK(trained >= 20);
}
