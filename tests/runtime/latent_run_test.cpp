// A latent run end to end on the tiny run (tests/runtime/tiny_run.hpp) at
// size 16: `spdec run autoencoder`, then training, sampling, the forward
// strip and edits in its latent space (2 × 8 × 8) — the process bound to the
// latent grid, the latent scale in the checkpoint, the draws decoded to
// 1 × 16 × 16 images — and a checkpoint refused once its autoencoder changes.
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/base/npy.hpp"
#include "runtime/data/image_folder.hpp"
#include "runtime/run/autoencoder_run.hpp"
#include "runtime/run/edit_run.hpp"
#include "runtime/run/forward_run.hpp"
#include "runtime/run/run_setup.hpp"
#include "runtime/run/sample_run.hpp"
#include "runtime/run/train_run.hpp"
#include "runtime/training/checkpoint.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"

namespace {

namespace fs = std::filesystem;
namespace rt = spdec::runtime;

bool finite(const at::Tensor& t) { return t.isfinite().all().item<bool>(); }

}  // namespace

TEST_CASE("latent run: train, sample, forward and edit in an autoencoder's latent space",
          "[latent][train]") {
  spdec::test::torch_setup();
  const fs::path root = spdec::test::temp_dir("latent-run");
  // A few autoencoder steps: the pipeline is under test here, the
  // autoencoder's quality in autoencoder_test.cpp.
  spdec::test::Run run = spdec::test::make_run(
      root, "perona_malik.spde",
      {"data.size=16", "model.autoencoder=\"autoencoder.pt\"", "autoencoder.latent_channels=2",
       "autoencoder.factor=2", "autoencoder.channels=16", "autoencoder.steps=40",
       "autoencoder.batch_size=4", "autoencoder.lr=3e-3", "autoencoder.log_every=20",
       "train.steps=6", "train.checkpoint_every=3", "train.sample_every=6", "sample.steps=10",
       "edit.seeds=2", "edit.sweep=[0.5, 1.0]", "forward.times=4"});
  const spdec::config::RunConfig& config = run.config;
  // The process is bound to the latent grid: its `size` is 16 / 2.
  CHECK(config.process.params.at("size") == 8.0);
  CHECK(config.model.autoencoder == (fs::path(config.run.dir) / "autoencoder.pt").string());
  std::ostringstream log;
  const rt::AutoencoderRunResult autoencoder = rt::run_autoencoder(config, log);
  REQUIRE(autoencoder.file == fs::path(config.model.autoencoder));

  const rt::TrainSummary summary = rt::run_train(config, run.process, log);
  INFO(log.str());
  CHECK(summary.steps == 6);
  const rt::CheckpointHeader header = rt::read_checkpoint_header(rt::checkpoint_path(config));
  CHECK(header.image_shape == std::vector<std::int64_t>{2, 8, 8});
  REQUIRE(header.latent.has_value());
  CHECK(header.latent->image_shape == std::vector<std::int64_t>{1, 16, 16});
  // The scale is the standard deviation of the training images' codes,
  // recomputed here through the file (float32 codes; the std in double
  // both times, so 1e-6 relative covers the encoder's rounding).
  const auto codec = rt::open_run_codec(config, 1, at::Device(at::kCPU));
  const rt::Dataset data = rt::load_dataset(rt::dataset_spec(config.data));
  const at::Tensor codes = rt::encode_in_batches(*codec, data.to_float());
  CHECK(header.latent->scale == Approx(codes.to(at::kDouble).std().item<double>()).epsilon(1e-6));
  CHECK(header.latent->autoencoder == codec->fingerprint());
  // The training's sample grid is drawn in the latent space and decoded: its
  // four images in two columns are 16 px wide (latents would be 8).
  const fs::path grid = fs::path(config.run.dir) / "samples" / "step_0000006.png";
  REQUIRE(fs::exists(grid));
  CHECK(rt::read_image(grid, 1).size(2) >= 2 * 16);

  // Sampling draws latents and writes the decoded images.
  const rt::SampleRunFiles samples = rt::run_sample(config, run.process, log);
  const at::Tensor drawn = rt::read_npy(samples.npy);
  CHECK(drawn.sizes() == at::IntArrayRef({4, 1, 16, 16}));
  CHECK(finite(drawn));
  CHECK(drawn.min().item<double>() >= -1.0);
  CHECK(drawn.max().item<double>() <= 1.0);

  // The forward strip: the process's latent states in forward.npy, decoded in the PNG.
  const rt::ForwardRunFiles forward = rt::run_forward(config, run.process, log);
  CHECK(rt::read_npy(forward.npy).sizes() == at::IntArrayRef({4, 4, 2, 8, 8}));
  const nlohmann::json report = nlohmann::json::parse(std::ifstream(forward.json));
  CHECK(report["latent"]["scale"].get<double>() == Approx(header.latent->scale));
  CHECK(fs::exists(forward.png));

  // Edits start from the guides' latents and are decoded.
  const rt::EditRunFiles edits = rt::run_edit(config, run.process, {}, log);
  CHECK(rt::read_npy(edits.npy).sizes() == at::IntArrayRef({4 * 2, 1, 16, 16}));

  // A new autoencoder at the same path (another seed): the latents the
  // checkpoint learned are not its codes, so sampling is refused.
  spdec::config::RunConfig retrained = config;
  retrained.autoencoder.seed = 1;
  (void)rt::run_autoencoder(retrained, log);
  CHECK_THROWS_WITH(rt::run_sample(config, run.process, log),
                    Catch::Contains(rt::checkpoint_path(config).string()) &&
                        Catch::Contains("another autoencoder"));
  fs::remove_all(root);
}
