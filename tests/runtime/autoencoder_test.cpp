// The latent space's pieces (docs/latent.md): the autoencoder's shapes, its
// loss and the image-quality measures against closed forms, a trained tiny
// autoencoder's round trip through its file, and the TorchScript contract —
// a user's encode/decode pair is checked on opening, and wrong shapes,
// missing methods and junk files are errors that name the file.
#include "runtime/nn/autoencoder.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/jit/api/module.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/eval/image_quality.hpp"
#include "runtime/nn/autoencoder_file.hpp"
#include "runtime/nn/latent_codec.hpp"
#include "runtime/nn/latent_space.hpp"
#include "runtime/run/autoencoder_run.hpp"
#include "runtime/run/run_setup.hpp"
#include "runtime/training/autoencoder_loss.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"

namespace {

namespace fs = std::filesystem;
namespace rt = spdec::runtime;
using rt::ValueRange;

rt::LatentShape shape_16(std::int64_t latent_channels = 4, std::int64_t factor = 2) {
  rt::LatentShape shape;
  shape.image_channels = 1;
  shape.image_side = 16;
  shape.latent_channels = latent_channels;
  shape.factor = factor;
  return shape;
}

/// A TorchScript module with the given methods, saved as a user would.
fs::path saved_module(const fs::path& dir, const std::string& name, const std::string& source) {
  torch::jit::Module module("SpdecAutoencoder" + name);
  module.define(source);
  const fs::path file = dir / (name + ".pt");
  module.save(file.string());
  return file;
}

/// What open_latent_codec says about `file`, or "" when it opens.
std::string open_error(const fs::path& file, const rt::LatentShape& shape) {
  try {
    (void)rt::open_latent_codec(file, shape, at::Device(at::kCPU));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// An average-pooling encoder (4 copies of the 2×2 means) and a nearest
// decoder of the first copy: an exact round trip on 2×2-constant images.
constexpr const char* kPoolingPair = R"(
def encode(self, x):
    return torch.avg_pool2d(x, [2, 2]).repeat([1, 4, 1, 1])
def decode(self, z):
    return z.narrow(1, 0, 1).repeat_interleave(2, 2).repeat_interleave(2, 3)
)";

}  // namespace

TEST_CASE("autoencoder: codes are [N, latent, S/f, S/f] and decode to [N, C, S, S]",
          "[autoencoder]") {
  spdec::test::torch_setup();
  for (const std::int64_t factor : {1, 2, 4}) {
    rt::AutoencoderOptions options;
    options.image_channels = 3;
    options.latent_channels = 2;
    options.factor = factor;
    options.channels = 8;
    rt::Autoencoder net(options);
    const at::Tensor x = at::rand({3, 3, 16, 16}) * 2.0 - 1.0;
    const rt::LatentPosterior q = net->encode(x);
    CHECK(q.mean.sizes() == at::IntArrayRef({3, 2, 16 / factor, 16 / factor}));
    CHECK(q.log_variance.sizes() == q.mean.sizes());
    CHECK(net->decode(q.mean).sizes() == x.sizes());
  }
  rt::Autoencoder net(rt::AutoencoderOptions{1, 4, 4, 8});
  CHECK_THROWS_WITH(net->encode(at::zeros({1, 1, 10, 10})),
                    Catch::Contains("multiples of 4") && Catch::Contains("[1, 1, 10, 10]"));
  CHECK_THROWS_WITH(net->decode(at::zeros({1, 3, 4, 4})), Catch::Contains("[N, 4, h, w]"));
  CHECK_THROWS_WITH(rt::Autoencoder(rt::AutoencoderOptions{1, 4, 3, 8}),
                    Catch::Contains("power of two"));
}

TEST_CASE("autoencoder loss: the multi-scale L1 and the KL against closed forms", "[autoencoder]") {
  spdec::test::torch_setup();
  const at::Tensor x = at::rand({2, 3, 8, 8}, spdec::test::f64());
  CHECK(rt::multiscale_l1(x, x, 3).item<double>() == 0.0);
  // A constant offset c survives every average pooling unchanged; scale s
  // has (8/2^s)² pixels per channel weighted 4^s: 3 channels · 64 · |c| per
  // scale, summed over the 3 scales (exact up to rounding).
  const double c = 0.25;
  CHECK(rt::multiscale_l1(x, x + c, 3).item<double>() == Approx(3 * 3 * 64 * c).epsilon(1e-12));
  // Scales beyond the side (8 → 4 → 2 → 1, then none) are left out: 4 count.
  CHECK(rt::multiscale_l1(x, x + c, 9).item<double>() == Approx(4 * 3 * 64 * c).epsilon(1e-12));
  // KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − 1 − log σ²) per entry, summed per code.
  rt::LatentPosterior q;
  q.mean = at::full({2, 4, 2, 2}, 1.0, spdec::test::f64());
  q.log_variance = at::zeros({2, 4, 2, 2}, spdec::test::f64());
  CHECK(rt::kl_to_standard_normal(q).item<double>() == Approx(16 * 0.5).epsilon(1e-12));
  q.mean.zero_();
  q.log_variance.fill_(std::log(2.0));
  CHECK(rt::kl_to_standard_normal(q).item<double>() ==
        Approx(16 * 0.5 * (2.0 - 1.0 - std::log(2.0))).epsilon(1e-12));
}

TEST_CASE("image quality: PSNR and SSIM against closed forms", "[autoencoder][metrics]") {
  spdec::test::torch_setup();
  const at::Tensor x = at::rand({3, 2, 16, 16}, spdec::test::f64()) * 0.5;
  // [0, 1] data, an offset δ: MSE = δ², PSNR = −10 log10 δ² = 20 dB at δ = 0.1.
  CHECK(rt::mean_psnr(x + 0.1, x, ValueRange::zero_one) == Approx(20.0).epsilon(1e-9));
  // [−1, 1] data: an offset 0.2 is 0.1 in [0, 1].
  CHECK(rt::mean_psnr(x + 0.2, x, ValueRange::minus_one_one) == Approx(20.0).epsilon(1e-9));
  CHECK(rt::mean_psnr(x, x, ValueRange::zero_one) == Approx(100.0));  // the 1e-10 MSE floor
  CHECK(rt::mean_ssim(x, x, ValueRange::zero_one) == Approx(1.0).epsilon(1e-12));
  // Constant images a, b: no variance, so every window's SSIM is
  // (2ab + C1) / (a² + b² + C1) with C1 = 0.01².
  const double a = 0.3;
  const double b = 0.6;
  const double c1 = 1e-4;
  const double expected = (2 * a * b + c1) / (a * a + b * b + c1);
  CHECK(rt::mean_ssim(at::full({2, 1, 9, 9}, a, spdec::test::f64()),
                      at::full({2, 1, 9, 9}, b, spdec::test::f64()),
                      ValueRange::zero_one) == Approx(expected).epsilon(1e-12));
  // Noise lowers it.
  CHECK(rt::mean_ssim(x + 0.2 * at::randn_like(x), x, ValueRange::zero_one) < 0.9);
}

TEST_CASE("autoencoder: a trained tiny autoencoder reconstructs its images; the file round-trips",
          "[autoencoder][train]") {
  spdec::test::torch_setup();
  const fs::path root = spdec::test::temp_dir("autoencoder");
  const spdec::test::Run run = spdec::test::make_run(
      root, "ve.spde",
      {"data.size=16", "autoencoder.latent_channels=2", "autoencoder.factor=2",
       "autoencoder.channels=16", "autoencoder.steps=300", "autoencoder.batch_size=4",
       "autoencoder.lr=3e-3", "autoencoder.log_every=50"});
  std::ostringstream log;
  const rt::AutoencoderRunResult result = rt::run_autoencoder(run.config, log);
  INFO(log.str());
  REQUIRE(fs::exists(result.file));
  CHECK(result.file == fs::path(run.config.run.dir) / "autoencoder.pt");
  CHECK(fs::exists(result.json));
  CHECK(fs::exists(result.png));
  CHECK_FALSE(result.fid.has_value());  // no feature extractor configured

  // The bound: the best reconstruction that knows nothing of the image is
  // the set's mean image. The four images (bars, a square, flat grey,
  // padded with black to 16 × 16, so three quarters of every image agree)
  // lie RMS ≈ 0.13 of the [0, 1] range from their mean, 17.7 dB; an
  // autoencoder that encodes them must do clearly better: halving that
  // error (+6 dB) is the least we accept. (300 steps reach about 33 dB.)
  const rt::Dataset data = rt::load_dataset(rt::dataset_spec(run.config.data));
  const at::Tensor images = data.to_float();
  const at::Tensor mean = images.mean(0, true).expand_as(images);
  const double mean_psnr = rt::mean_psnr(mean, images, ValueRange::minus_one_one);
  CHECK(result.psnr > mean_psnr + 6.0);
  CHECK(result.ssim > rt::mean_ssim(mean, images, ValueRange::minus_one_one));

  // Through the file (the codec every latent job uses): the same codes'
  // reconstructions, so the same PSNR up to float rounding in the network
  // (1e-4 dB is a relative MSE change of 2e-5, far above float32's 1e-7).
  const auto codec = rt::open_run_codec(
      [&] {
        auto c = run.config;
        c.model.autoencoder = result.file.string();
        return c;
      }(),
      1, at::Device(at::kCPU));
  REQUIRE(codec);
  const at::Tensor codes = rt::encode_in_batches(*codec, images);
  CHECK(codes.sizes() == at::IntArrayRef({4, 2, 8, 8}));
  const at::Tensor decoded =
      rt::clamp_to_range(rt::decode_in_batches(*codec, codes), ValueRange::minus_one_one);
  CHECK(decoded.sizes() == images.sizes());
  CHECK(rt::mean_psnr(decoded, images, ValueRange::minus_one_one) ==
        Approx(result.psnr).margin(1e-4));
  CHECK(codec->description().find("spdec autoencoder") != std::string::npos);

  // The file does not fit a run that expects other shapes: named, with the keys.
  const std::string wrong = open_error(result.file, shape_16(4, 2));
  CHECK_THAT(wrong, Catch::Contains(result.file.string()) && Catch::Contains("[2, 2, 8, 8]") &&
                        Catch::Contains("autoencoder.latent_channels = 4"));
  fs::remove_all(root);
}

TEST_CASE("autoencoder: a user's TorchScript pair is checked on opening; errors name the file",
          "[autoencoder][torchscript]") {
  spdec::test::torch_setup();
  const fs::path dir = spdec::test::temp_dir("torchscript-codec");

  SECTION("the contract: encode and decode on [-1, 1] images of the run's shapes") {
    const fs::path file = saved_module(dir, "pooling", kPoolingPair);
    rt::LatentShape shape = shape_16(4, 2);
    shape.range = ValueRange::zero_one;  // the codec maps [0, 1] to [−1, 1] and back
    const auto codec = rt::open_latent_codec(file, shape, at::Device(at::kCPU));
    // 2×2-constant images: the pair's round trip is exact.
    const at::Tensor coarse = at::rand({3, 1, 8, 8});
    const at::Tensor images = coarse.repeat_interleave(2, 2).repeat_interleave(2, 3);
    const at::Tensor codes = codec->encode(images);
    REQUIRE(codes.sizes() == at::IntArrayRef({3, 4, 8, 8}));
    // The codes are of the [−1, 1] images.
    CHECK(spdec::test::max_abs_diff(codes.narrow(1, 2, 1), coarse * 2.0 - 1.0) < 1e-6);
    CHECK(spdec::test::max_abs_diff(codec->decode(codes), images) < 1e-6);
    CHECK(codec->fingerprint().size() == 16);
    // The latent scale divides the codes and multiplies them back.
    const rt::LatentSpace space(
        std::shared_ptr<rt::LatentCodec>(rt::open_latent_codec(file, shape, at::Device(at::kCPU))),
        2.0);
    CHECK(spdec::test::max_abs_diff(space.encode(images), codes / 2.0) < 1e-6);
    CHECK(spdec::test::max_abs_diff(space.decode(space.encode(images)), images) < 1e-6);
  }
  SECTION("wrong shapes") {
    const fs::path one_channel = saved_module(dir, "one_channel", R"(
def encode(self, x):
    return torch.avg_pool2d(x, [2, 2])
def decode(self, z):
    return z.repeat_interleave(2, 2).repeat_interleave(2, 3)
)");
    CHECK_THAT(open_error(one_channel, shape_16(4, 2)),
               Catch::Contains(one_channel.string()) && Catch::Contains("encode maps") &&
                   Catch::Contains("[2, 1, 8, 8]") && Catch::Contains("[2, 4, 8, 8]"));
    // The pooling pair halves the side: a run with factor 4 expects 4 × 4.
    const fs::path pooling = saved_module(dir, "pooling", kPoolingPair);
    CHECK_THAT(open_error(pooling, shape_16(4, 4)),
               Catch::Contains(pooling.string()) && Catch::Contains("autoencoder.factor = 4"));
    const fs::path bad_decode = saved_module(dir, "bad_decode", R"(
def encode(self, x):
    return torch.avg_pool2d(x, [2, 2]).repeat([1, 4, 1, 1])
def decode(self, z):
    return z
)");
    CHECK_THAT(open_error(bad_decode, shape_16(4, 2)),
               Catch::Contains(bad_decode.string()) && Catch::Contains("decode maps"));
  }
  SECTION("a missing method, a junk file, no file") {
    const fs::path forward_only = saved_module(dir, "forward_only", R"(
def forward(self, x):
    return x
)");
    CHECK_THAT(open_error(forward_only, shape_16()),
               Catch::Contains(forward_only.string()) && Catch::Contains("no method `encode`"));
    const fs::path junk = dir / "junk.pt";
    std::ofstream(junk) << "not a zip archive at all";
    CHECK_THAT(open_error(junk, shape_16()),
               Catch::Contains(junk.string()) &&
                   Catch::Contains("neither a spdec autoencoder nor a TorchScript module"));
    const fs::path missing = dir / "missing.pt";
    CHECK_THAT(open_error(missing, shape_16()),
               Catch::Contains(missing.string()) && Catch::Contains("no such file"));
  }
  fs::remove_all(dir);
}
