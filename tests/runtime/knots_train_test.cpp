// Joint training of learnable schedules in `spdec run train` and their use by
// sampling (docs/learnable_schedules.md): library/two_subspace.spde on the
// tiny run of tiny_run.hpp. What is checked: the knots move, stay increasing
// and are saved, plotted and printed; a resumed run continues them bit for
// bit; sampling reads them from the checkpoint, and its samples change with
// them; a run that cannot train them is refused before it starts.
#include <ATen/ATen.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/run/run_setup.hpp"
#include "runtime/run/train_run.hpp"
#include "runtime/run/trained_run.hpp"
#include "runtime/sampling/generate.hpp"
#include "runtime/training/checkpoint.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"

namespace fs = std::filesystem;

namespace {

using spdec::test::make_run;
using spdec::test::Run;
using spdec::test::temp_dir;

/// A large knots' learning rate, so that 12 steps move them visibly.
const std::vector<std::string> kKnots{"model.parameterisation=\"noise\"", "train.schedule_lr=0.05",
                                      "train.schedule_probes=2"};

std::vector<double> logged(const fs::path& run_dir, const std::string& key) {
  std::ifstream in(run_dir / "train_log.jsonl");
  std::vector<double> values;
  std::string line;
  while (std::getline(in, line)) values.push_back(nlohmann::json::parse(line)[key]);
  return values;
}

/// Checks that every trained knot is positive and increasing; returns how far
/// the knots moved from their init (the largest |log(knot / init)|).
double checked_knots(const Run& run, const std::vector<std::vector<double>>& knots) {
  double moved = 0;
  for (std::size_t i = 0; i < knots.size(); ++i) {
    const std::vector<double>& init = run.process.learnables[i].init_values;
    REQUIRE(knots[i].size() == init.size());
    for (std::size_t k = 0; k < init.size(); ++k) {
      CHECK(knots[i][k] > 0);
      if (k + 1 < init.size()) CHECK(knots[i][k] < knots[i][k + 1]);
      moved = std::max(moved, std::abs(std::log(knots[i][k] / init[k])));
    }
  }
  return moved;
}

std::ostringstream quiet;

}  // namespace

TEST_CASE("train: learnable schedules train with the network, monotone, and are saved",
          "[knots][train]") {
  spdec::test::torch_setup();
  const fs::path root = temp_dir("knots");
  Run run = make_run(root, "two_subspace.spde", kKnots);
  std::ostringstream log;
  const auto summary = spdec::runtime::run_train(run.config, run.process, log);
  CHECK(summary.steps == 12);
  REQUIRE(summary.knots.size() == 2);
  const double moved = checked_knots(run, summary.knots);
  INFO(log.str());
  CHECK(moved > 1e-3);
  CHECK(fs::file_size(fs::path(run.config.run.dir) / "schedules.png") > 0);
  CHECK(log.str().find("train: step 12 knots g x") != std::string::npos);
  CHECK(log.str().find("learned schedules:") != std::string::npos);
  const std::vector<double> schedule_losses = logged(run.config.run.dir, "schedule_loss");
  REQUIRE(schedule_losses.size() == 12);
  for (const double loss : schedule_losses) CHECK(std::isfinite(loss));

  // Sampling reads the knots from the checkpoint, and its samples move with
  // them: the same network and prior with the init knots draw other images.
  spdec::runtime::TrainedRun opened =
      spdec::runtime::open_trained_run(run.config, run.process, at::kCPU);
  CHECK(opened.knots == summary.knots);
  const spdec::runtime::GenerateRequest request = spdec::runtime::generate_request(run.config);
  const at::Tensor learned =
      spdec::runtime::generate(*opened.model, opened.net, opened.head, opened.prior, request);
  const auto init_model = spdec::runtime::make_run_model(
      run.config, run.process, spdec::test::kSide, spdec::test::kSide, at::kCPU);
  const at::Tensor init =
      spdec::runtime::generate(*init_model, opened.net, opened.head, opened.prior, request);
  CHECK(at::isfinite(learned).all().item<bool>());
  CHECK((learned - init).abs().max().item<double>() > 1e-4);

  // The samplers that step the kernels (built with the init knots) are refused.
  spdec::config::RunConfig pc = run.config;
  pc.sample.sampler = spdec::config::Sampler::pc;
  CHECK_THROWS_WITH(spdec::runtime::open_trained_run(pc, run.process, at::kCPU),
                    Catch::Contains("sample.sampler = \"pc\"") && Catch::Contains("init knots"));
  fs::remove_all(root);
}

TEST_CASE("train: a resumed run continues the knots bit for bit", "[knots][train]") {
  spdec::test::torch_setup();
  const fs::path straight_root = temp_dir("knots-straight");
  const fs::path resumed_root = temp_dir("knots-resumed");
  Run straight = make_run(straight_root, "two_subspace.spde", kKnots);
  Run resumed = make_run(resumed_root, "two_subspace.spde", kKnots);
  const auto expected = spdec::runtime::run_train(straight.config, straight.process, quiet);

  // A kill at step 10: step 8's checkpoint (knots and their Adam state) remains.
  spdec::runtime::TrainHooks kill;
  kill.on_loss = [](std::int64_t step, at::Tensor&) {
    if (step == 10) throw std::runtime_error("killed");
  };
  CHECK_THROWS_WITH(spdec::runtime::run_train(resumed.config, resumed.process, quiet, kill),
                    "killed");
  const auto summary = spdec::runtime::run_train(resumed.config, resumed.process, quiet);
  CHECK(summary.first_step == 8);
  REQUIRE(summary.knots.size() == expected.knots.size());
  CHECK(summary.knots == expected.knots);  // exact
  CHECK(logged(straight.config.run.dir, "schedule_loss") ==
        logged(resumed.config.run.dir, "schedule_loss"));
  CHECK(logged(straight.config.run.dir, "loss") == logged(resumed.config.run.dir, "loss"));
  fs::remove_all(straight_root);
  fs::remove_all(resumed_root);
}

TEST_CASE("train: learnable schedules train with a denoiser network too, monotone",
          "[knots][train]") {
  spdec::test::torch_setup();
  const fs::path root = temp_dir("knots-denoiser");
  Run run = make_run(
      root, "two_subspace.spde",
      {"model.parameterisation=\"denoiser\"", "train.schedule_lr=0.05", "train.schedule_probes=2"});
  const auto summary = spdec::runtime::run_train(run.config, run.process, quiet);
  CHECK(summary.steps == 12);
  REQUIRE(summary.knots.size() == 2);
  const double moved = checked_knots(run, summary.knots);
  const std::vector<double> losses = logged(run.config.run.dir, "schedule_loss");
  REQUIRE(losses.size() == 12);
  for (const double loss : losses) CHECK(std::isfinite(loss));
  CHECK(moved > 1e-3);
  fs::remove_all(root);
}
