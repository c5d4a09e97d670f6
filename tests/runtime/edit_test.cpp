// `spdec run edit` (SDEdit) and its stroke simulator: the median filter and
// the quantisation against hand-computed values; edits of a tiny trained VE
// run at the two ends of the strength range, where the answer is known (a
// strength near 0 gives the guide back, strength 1 forgets it); and the
// job's files.
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/base/npy.hpp"
#include "runtime/data/image_folder.hpp"
#include "runtime/data/strokes.hpp"
#include "runtime/run/edit_run.hpp"
#include "runtime/run/train_run.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"

namespace fs = std::filesystem;
using spdec::test::kSide;

namespace {

std::ostringstream quiet;

/// RMS of a − b over everything.
double rms(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).square().mean().sqrt().item<double>();
}

/// The edits `run edit` writes for one guide file at one strength (seed 0).
at::Tensor edit_of(const spdec::test::Run& trained, const fs::path& guide, double strength,
                   const std::string& stem) {
  spdec::config::RunConfig config = trained.config;
  config.edit.sweep = {strength};
  config.edit.strength = strength;
  config.edit.seeds = 1;
  config.edit.output = stem;
  const auto files = spdec::runtime::run_edit(config, trained.process, {guide.string()}, quiet);
  return spdec::runtime::read_npy(files.npy);
}

}  // namespace

TEST_CASE("strokes: the median filter and the quantisation", "[edit]") {
  spdec::test::torch_setup();
  // A single bright pixel (salt) on a flat image vanishes under a 3-wide
  // median; a vertical step edge stays where it is (replicated borders).
  at::Tensor salt = at::full({1, 1, 5, 5}, -1.0F);
  salt[0][0][2][2] = 1.0F;
  CHECK(spdec::runtime::median_filter(salt, 3).eq(-1.0F).all().item<bool>());
  at::Tensor edge = at::full({1, 1, 5, 6}, -1.0F);
  edge.narrow(3, 3, 3).fill_(1.0F);
  CHECK(spdec::runtime::median_filter(edge, 3).equal(edge));
  // A 3-wide median of a ramp row is the ramp (each window's middle value).
  const at::Tensor ramp = at::arange(7, at::kFloat).view({1, 1, 1, 7}).repeat({1, 1, 3, 1});
  const at::Tensor filtered = spdec::runtime::median_filter(ramp, 3);
  CHECK(filtered.equal(ramp));
  // Four levels of [−1, 1]: −1, −1/3, 1/3, 1; values go to the nearest.
  spdec::runtime::StrokeOptions options;
  options.width = 1;
  options.levels = 4;
  const at::Tensor values = at::tensor({-1.0F, -0.6F, 0.1F, 0.2F, 0.7F, 1.0F}).view({1, 1, 1, 6});
  const at::Tensor expected =
      at::tensor({-1.0F, -1.0F / 3, 1.0F / 3, 1.0F / 3, 1.0F, 1.0F}).view({1, 1, 1, 6});
  CHECK(spdec::test::max_abs_diff(spdec::runtime::stroke_painting(values, options), expected) <
        1e-6);
  CHECK(spdec::runtime::default_stroke_width(28) == 3);
  CHECK(spdec::runtime::default_stroke_width(64) == 7);
  CHECK(spdec::runtime::default_stroke_width(256) == 25);
}

// A tiny VE run (12 training steps: the network is nearly untrained, which
// is the point — the two ends hold whatever the network says).
// Strength 1e-3: x starts at t = t0 + 1e-3·(T − t0), σ ≈ 0.0104, and one
// step with the final denoising returns x − σ·ε̂ (ε-network, the default for
// VE): |ε̂| is O(1) per pixel, so the RMS distance to the guide is O(σ);
// bound 0.05 (5σ). Strength 1: x_T = x + σ_max·z with σ_max = 50 holds the
// guide at 1/50 of the noise, and the reverse chain contracts differences of
// x_T; two different guides with the same noise must give edits closer than
// 0.1 of the guides' own RMS distance (the input's weight 0.02, with margin).
// Measured: 0.0012 and 0.00058 (the guides 0.85 apart). An edit that ignored
// the strength (started at T) or returned its input fails one of the two.
TEST_CASE("edit: a strength near 0 returns the guide, strength 1 forgets it (VE)", "[edit]") {
  spdec::test::torch_setup();
  const fs::path root = spdec::test::temp_dir("edit");
  spdec::test::Run run = spdec::test::make_run(root, "ve.spde", {"sample.steps=50"});
  (void)spdec::runtime::run_train(run.config, run.process, quiet);
  const fs::path a = root / "data" / "image0.png";
  const fs::path b = root / "data" / "image2.png";
  const at::Tensor guide_a =
      spdec::runtime::to_float(spdec::runtime::read_image(a, 1).unsqueeze(0));
  const at::Tensor guide_b =
      spdec::runtime::to_float(spdec::runtime::read_image(b, 1).unsqueeze(0));

  const double kept = rms(edit_of(run, a, 1e-3, "near0"), guide_a);
  INFO("RMS distance of a strength-1e-3 edit to its guide: " << kept);
  CHECK(kept < 0.05);

  const double forgotten = rms(edit_of(run, a, 1.0, "full_a"), edit_of(run, b, 1.0, "full_b"));
  const double apart = rms(guide_a, guide_b);
  INFO("strength 1: edits of two guides " << forgotten << " apart, the guides " << apart);
  CHECK(forgotten < 0.1 * apart);
  fs::remove_all(root);
}

TEST_CASE("edit: the job's grid, edits and report", "[edit]") {
  spdec::test::torch_setup();
  const fs::path root = spdec::test::temp_dir("edit-job");
  spdec::test::Run run = spdec::test::make_run(
      root, "ve.spde", {"sample.steps=10", "edit.images=3", "edit.seeds=2", "edit.sweep=[0.5, 1]"});
  (void)spdec::runtime::run_train(run.config, run.process, quiet);
  // No inputs: the data's first 3 images made strokes (a folder has no
  // held-out split).
  const auto files = spdec::runtime::run_edit(run.config, run.process, {}, quiet);
  const at::Tensor edits = spdec::runtime::read_npy(files.npy);
  CHECK(edits.sizes() == at::IntArrayRef({6, 1, kSide, kSide}));  // 3 guides × 2 seeds
  std::ifstream in(files.json);
  const nlohmann::json report = nlohmann::json::parse(in);
  CHECK(report["guides"] == 3);
  REQUIRE(report["strengths"].size() == 3);  // the sweep, then edit.strength
  CHECK(report["strengths"][1]["steps"] == 10);
  CHECK(report["strengths"][2]["edits"] == 6);
  CHECK(report["strengths"][2]["steps"] == 5);
  CHECK(fs::file_size(files.png) > 0);
  fs::remove_all(root);
}
