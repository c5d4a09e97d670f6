// Classifier-free guidance (Ho & Salimans, "Classifier-Free Diffusion
// Guidance", 2022, arXiv:2207.12598): the guided output (1 + w) f(x, c) −
// w f(x, ∅) against the network called directly, and sampling end to end: a
// class-conditional network whose label embedding is zero is the
// unconditional model, so its samples for one seed must not depend on the
// guidance weight, while a network that reads its labels must give other
// samples under guidance (the test could not fail if guidance were ignored).
#include <ATen/ATen.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>
#include <string>

#include "runtime/nn/unet.hpp"
#include "runtime/run/run_setup.hpp"
#include "runtime/sampling/generate.hpp"
#include "runtime/training/network_score.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"

namespace fs = std::filesystem;
using spdec::runtime::UNet;

namespace {

UNet conditional_net(const spdec::config::RunConfig& config) {
  torch::manual_seed(7);
  spdec::runtime::UNetOptions options =
      spdec::runtime::unet_options(config.model, 1, spdec::test::kSide);
  options.num_classes = 10;
  UNet net(options);
  // A fresh U-Net's last convolution is zero (score_sde's initialisation),
  // so it outputs 0 whatever its labels: give every weight a random part.
  const torch::NoGradGuard no_grad;
  for (auto& p : net->parameters()) p.add_(0.05 * torch::randn_like(p));
  net->eval();
  return net;
}

/// The label embedding's rows made equal (zero): every label, the null one
/// included, then adds the same vector, and the network ignores its labels.
void forget_labels(UNet& net) {
  const torch::NoGradGuard no_grad;
  for (auto& p : net->named_parameters()) {
    if (p.key().find("label_embedding") != std::string::npos) p.value().zero_();
  }
}

double max_abs(const at::Tensor& a) { return a.abs().max().item<double>(); }

}  // namespace

// The guided output is computed by the same float32 operations as the
// right-hand side below, in the same order, so w = 0 is bit-identical to the
// conditional call and w = 2 agrees to a few ulps of the outputs (≈ 1):
// 1e-5 is 100 ulps of float32 at 1.
TEST_CASE("guidance: w = 0 is the conditional network, w > 0 extrapolates from the null label",
          "[guidance]") {
  spdec::test::torch_setup();
  const fs::path root = spdec::test::temp_dir("guidance-output");
  const spdec::test::Run run =
      spdec::test::make_run(root, "ve.spde", {"model.class_conditional=true"});
  UNet net = conditional_net(run.config);
  const at::Tensor x = at::randn({4, 1, spdec::test::kSide, spdec::test::kSide});
  const at::Tensor time = at::full({4}, 0.5);
  const at::Tensor labels = at::arange(4, at::TensorOptions().dtype(at::kLong));
  const at::Tensor null_labels = at::full({4}, 10, at::TensorOptions().dtype(at::kLong));

  const at::Tensor conditional = net->forward(x, time, labels);
  const at::Tensor unconditional = net->forward(x, time, null_labels);
  REQUIRE(max_abs(conditional - unconditional) > 1e-3);  // the labels matter

  CHECK(at::equal(spdec::runtime::guided_output(net, x, time, labels, 0.0), conditional));
  const at::Tensor guided = spdec::runtime::guided_output(net, x, time, labels, 2.0);
  CHECK(max_abs(guided - (3.0 * conditional - 2.0 * unconditional)) < 1e-5);
  fs::remove_all(root);
}

// Sampling: VE (ε-network, posterior sampler), 10 steps, prior at T drawn
// from four images. With a label-blind network, (1 + w) f − w f differs from
// f only by float32 rounding (≤ (1 + 2w) ulps per evaluation, w = 3: 7 ulps
// ≈ 1e-6 of ε̂ ≈ 1), and the sampler's ten contracting steps do not amplify
// it past the final scale of the samples (≈ 1): 1e-4 leaves two orders of
// margin. The label-reading network's guided samples must differ by more
// than 1e-2 (guidance 3 moves ε̂ by 3× the label effect, ≥ 1e-3 per
// evaluation above, accumulated over the steps).
TEST_CASE("guidance: a label-blind network samples the same at every weight", "[guidance]") {
  spdec::test::torch_setup();
  const fs::path root = spdec::test::temp_dir("guidance-sample");
  const spdec::test::Run run = spdec::test::make_run(
      root, "ve.spde", {"model.class_conditional=true", "sample.steps=10", "sample.label=3"});
  auto model = spdec::runtime::make_run_model(run.config, run.process, spdec::test::kSide,
                                              spdec::test::kSide, at::kCPU);
  spdec::runtime::GenerateRequest request = spdec::runtime::generate_request(run.config);
  torch::manual_seed(3);
  request.prior_images = at::rand({4, 1, spdec::test::kSide, spdec::test::kSide}) * 2.0 - 1.0;
  const auto draw = [&](UNet& net, double guidance) {
    spdec::runtime::GenerateRequest r = request;
    r.guidance = guidance;
    return spdec::runtime::generate(*model, net, spdec::runtime::ObjectiveKind::exact, std::nullopt,
                                    r);
  };

  UNet reading = conditional_net(run.config);
  const double moved = max_abs(draw(reading, 3.0) - draw(reading, 0.0));
  INFO("label-reading network: guidance 3 moves the samples by " << moved);
  CHECK(moved > 1e-2);

  UNet blind = conditional_net(run.config);
  forget_labels(blind);
  const at::Tensor plain = draw(blind, 0.0);
  REQUIRE(at::isfinite(plain).all().item<bool>());
  for (const double w : {1.0, 3.0}) {
    const double apart = max_abs(draw(blind, w) - plain);
    INFO("label-blind network, guidance " << w << ": " << apart << " from guidance 0");
    CHECK(apart < 1e-4);
  }
  fs::remove_all(root);
}
