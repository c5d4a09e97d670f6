// The NCSN++/DDPM++ U-Net (runtime/nn/unet.hpp): shapes for sizes that need
// padding, the zero initial output, dependence on time and label, batch
// independence, dropout, gradient flow, training progress, determinism and
// option checks. Networks are tiny (base_channels 8-16) so the file runs in
// seconds.
#include "runtime/nn/unet.hpp"

#include <ATen/ATen.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using spdec::runtime::TimeEmbedding;
using spdec::runtime::UNet;
using spdec::runtime::UNetOptions;
using spdec::test::f32;
using spdec::test::max_abs_diff;
using spdec::test::torch_setup;

/// A small network; attention at the second level (side 16 of 32).
UNetOptions small_options() {
  UNetOptions options;
  options.base_channels = 8;
  options.channel_mult = {1, 2, 2};
  options.num_res_blocks = 1;
  options.attention_resolutions = {16};
  options.image_size = 32;
  options.dropout = 0;
  return options;
}

/// Gives conv_out random weights: the zero init makes every output 0, which
/// would hide any dependence on the inputs.
void randomise_conv_out(UNet& model) {
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    if (item.key().rfind("conv_out.", 0) == 0) item.value().normal_(0.0, 0.1);
  }
}

at::Tensor times(std::int64_t n, double value) { return at::full({n}, value, f32()); }

at::Tensor labels(std::vector<std::int64_t> values) {
  return at::tensor(values, at::TensorOptions().dtype(at::kLong));
}

/// Squared error of the prediction for (x, t, y) against target.
at::Tensor regression_loss(UNet& model, const at::Tensor& x, const at::Tensor& t,
                           const at::Tensor& y, const at::Tensor& target) {
  return (model->forward(x, t, y) - target).pow(2).mean();
}

bool all_zero(const at::Tensor& tensor) { return tensor.abs().max().item<double>() == 0.0; }

}  // namespace

TEST_CASE("unet: output shape equals input shape, padding odd sizes", "[unet]") {
  torch_setup();
  using Shape = std::vector<std::int64_t>;
  for (const auto& mult : {Shape{1, 2, 2}, Shape{1, 2, 2, 2}}) {
    for (const auto& shape : {Shape{2, 1, 28, 28}, Shape{2, 3, 32, 32}, Shape{1, 1, 30, 20}}) {
      auto options = small_options();
      options.channel_mult = mult;
      options.in_channels = shape[1];
      UNet model(options);
      model->eval();
      randomise_conv_out(model);
      const auto x = at::randn(shape, f32());
      const auto out = model->forward(x, times(shape[0], 0.5));
      INFO("channel_mult levels " << mult.size() << ", input " << x.sizes());
      CHECK(out.sizes() == x.sizes());
      CHECK(at::isfinite(out).all().item<bool>());
    }
  }
}

TEST_CASE("unet: initial output is exactly zero", "[unet]") {
  torch_setup();
  UNet model(small_options());
  const auto out = model->forward(at::randn({3, 1, 28, 28}, f32()), times(3, 0.3));
  CHECK(all_zero(out));
}

TEST_CASE("unet: output depends on time, for both embeddings", "[unet]") {
  torch_setup();
  for (const auto embedding : {TimeEmbedding::fourier, TimeEmbedding::sinusoidal}) {
    auto options = small_options();
    options.embedding = embedding;
    UNet model(options);
    model->eval();
    randomise_conv_out(model);
    const auto x = at::randn({2, 1, 16, 16}, f32());
    const auto early = model->forward(x, times(2, 0.1));
    const auto late = model->forward(x, times(2, 0.9));
    CHECK(max_abs_diff(early, late) > 1e-4);
    CHECK(max_abs_diff(early, model->forward(x, times(2, 0.1))) == 0.0);
  }
}

TEST_CASE("unet: conditional output depends on the label, undefined labels are null", "[unet]") {
  torch_setup();
  auto options = small_options();
  options.num_classes = 10;
  UNet model(options);
  model->eval();
  randomise_conv_out(model);
  const auto x = at::randn({2, 1, 16, 16}, f32());
  const auto t = times(2, 0.5);
  const auto three = model->forward(x, t, labels({3, 3}));
  const auto null = model->forward(x, t, labels({10, 10}));
  CHECK(max_abs_diff(three, null) > 1e-4);
  CHECK(max_abs_diff(model->forward(x, t), null) == 0.0);
  CHECK_THROWS_AS(model->forward(x, t, labels({3, 11})), std::invalid_argument);
  CHECK_THROWS_AS(model->forward(x, t, labels({-1, 0})), std::invalid_argument);
  CHECK_THROWS_AS(model->forward(x, t, labels({3})), std::invalid_argument);
}

TEST_CASE("unet: sample i's output does not depend on the rest of the batch", "[unet]") {
  torch_setup();
  auto options = small_options();
  options.num_classes = 4;
  UNet model(options);
  model->eval();
  randomise_conv_out(model);
  // An odd size, so the padding path runs too.
  const auto x = at::randn({4, 1, 30, 30}, f32());
  const auto t = at::tensor({0.2F, 0.9F, 0.5F, 0.01F});
  const auto y = labels({1, 4, 0, 2});
  const auto batch = model->forward(x, t, y);
  const auto alone = model->forward(x.narrow(0, 0, 1), t.narrow(0, 0, 1), y.narrow(0, 0, 1));
  CHECK(max_abs_diff(batch.narrow(0, 0, 1), alone) < 1e-5);
  // Not trivially so: the other samples' outputs differ from sample 0's.
  CHECK(max_abs_diff(batch.narrow(0, 1, 1), alone) > 1e-3);
}

TEST_CASE("unet: dropout is active in train mode only", "[unet]") {
  torch_setup();
  auto options = small_options();
  options.dropout = 0.5;
  UNet model(options);
  randomise_conv_out(model);
  const auto x = at::randn({2, 1, 16, 16}, f32());
  const auto t = times(2, 0.5);
  model->train();
  CHECK(max_abs_diff(model->forward(x, t), model->forward(x, t)) > 1e-4);
  model->eval();
  CHECK(max_abs_diff(model->forward(x, t), model->forward(x, t)) == 0.0);
}

TEST_CASE("unet: gradient reaches conv_out first, every parameter on the second step", "[unet]") {
  torch_setup();
  auto options = small_options();
  options.num_classes = 3;
  UNet model(options);
  const auto x = at::randn({4, 1, 16, 16}, f32());
  const auto t = at::rand({4}, f32());
  const auto y = labels({0, 1, 2, 3});
  const auto target = at::randn({4, 1, 16, 16}, f32());
  torch::optim::SGD optimiser(model->parameters(), torch::optim::SGDOptions(0.1));

  optimiser.zero_grad();
  regression_loss(model, x, t, y, target).backward();
  for (const auto& item : model->named_parameters()) {
    INFO("step 1: " << item.key());
    const bool output_conv = item.key().rfind("conv_out.", 0) == 0;
    REQUIRE(item.value().grad().defined());
    CHECK(all_zero(item.value().grad()) != output_conv);
  }
  optimiser.step();

  optimiser.zero_grad();
  regression_loss(model, x, t, y, target).backward();
  for (const auto& item : model->named_parameters()) {
    INFO("step 2: " << item.key());
    REQUIRE(item.value().grad().defined());
    CHECK_FALSE(all_zero(item.value().grad()));
  }
}

TEST_CASE("unet: loss decreases over Adam steps on a fixed batch", "[unet]") {
  torch_setup();
  UNetOptions options;
  options.base_channels = 16;
  options.channel_mult = {1, 2};
  options.num_res_blocks = 1;
  options.attention_resolutions = {4};
  options.image_size = 8;
  options.dropout = 0;
  UNet model(options);
  const auto x = at::randn({8, 1, 8, 8}, f32());
  const auto t = at::rand({8}, f32());
  const auto target = at::randn({8, 1, 8, 8}, f32());
  torch::optim::Adam optimiser(model->parameters(), torch::optim::AdamOptions(1e-3));
  const double initial = regression_loss(model, x, t, {}, target).item<double>();
  double loss = initial;
  for (int step = 0; step < 20; ++step) {
    optimiser.zero_grad();
    auto value = regression_loss(model, x, t, {}, target);
    value.backward();
    optimiser.step();
    loss = value.item<double>();
  }
  INFO("initial loss " << initial << ", after 20 steps " << loss);
  CHECK(loss < 0.8 * initial);
}

TEST_CASE("unet: same seed gives the same parameters, the Fourier buffer is fixed", "[unet]") {
  auto build = [](std::uint64_t seed) {
    torch_setup(seed);
    return UNet(small_options());
  };
  const auto first = build(11);
  const auto again = build(11);
  const auto other = build(12);
  const auto first_parameters = first->named_parameters();
  const auto again_parameters = again->named_parameters();
  REQUIRE(first_parameters.size() == again_parameters.size());
  bool any_differs_for_other_seed = false;
  for (const auto& item : first_parameters) {
    INFO(item.key());
    CHECK(at::equal(item.value(), again_parameters[item.key()]));
    any_differs_for_other_seed = any_differs_for_other_seed ||
                                 !at::equal(item.value(), other->named_parameters()[item.key()]);
  }
  CHECK(any_differs_for_other_seed);

  const auto* buffer = first->named_buffers().find("fourier_weights");
  REQUIRE(buffer != nullptr);
  CHECK(buffer->numel() == small_options().base_channels);
  CHECK(at::equal(*buffer, *other->named_buffers().find("fourier_weights")));
  CHECK(first->parameter_count() > 0);
}

TEST_CASE("unet: bad options and inputs throw std::invalid_argument", "[unet]") {
  torch_setup();
  auto with = [](auto change) {
    auto options = small_options();
    change(options);
    return options;
  };
  using Options = UNetOptions&;
  CHECK_THROWS_AS(UNet(with([](Options o) { o.channel_mult.clear(); })), std::invalid_argument);
  CHECK_THROWS_AS(UNet(with([](Options o) { o.channel_mult = {1, 0}; })), std::invalid_argument);
  CHECK_THROWS_AS(UNet(with([](Options o) { o.base_channels = 0; })), std::invalid_argument);
  CHECK_THROWS_AS(UNet(with([](Options o) { o.base_channels = 2; })), std::invalid_argument);
  CHECK_THROWS_AS(UNet(with([](Options o) {
                    o.base_channels = 48;  // 48 + 96 = 144 channels: 32 groups do not divide
                    o.channel_mult = {1, 2};
                  })),
                  std::invalid_argument);
  CHECK_THROWS_AS(UNet(with([](Options o) { o.in_channels = 0; })), std::invalid_argument);
  CHECK_THROWS_AS(UNet(with([](Options o) { o.num_res_blocks = 0; })), std::invalid_argument);
  CHECK_THROWS_AS(UNet(with([](Options o) { o.image_size = 0; })), std::invalid_argument);
  CHECK_THROWS_AS(UNet(with([](Options o) { o.dropout = 1.0; })), std::invalid_argument);
  CHECK_THROWS_AS(UNet(with([](Options o) { o.fourier_scale = 0; })), std::invalid_argument);
  CHECK_THROWS_AS(UNet(with([](Options o) { o.num_classes = -1; })), std::invalid_argument);
  CHECK_THROWS_WITH(UNet(with([](Options o) { o.attention_resolutions = {12}; })),
                    Catch::Contains("attention resolution 12"));
  CHECK_NOTHROW(UNet(with([](Options o) {
    o.base_channels = 12;
    o.channel_mult = {1, 2};
  })));

  UNet model(small_options());
  const auto t = times(2, 0.5);
  CHECK_THROWS_AS(model->forward(at::randn({2, 3, 16, 16}, f32()), t), std::invalid_argument);
  CHECK_THROWS_AS(model->forward(at::randn({2, 16, 16}, f32()), t), std::invalid_argument);
  CHECK_THROWS_AS(model->forward(at::randn({2, 1, 16, 16}, f32()), times(3, 0.5)),
                  std::invalid_argument);
}

TEST_CASE("unet: time embeddings are spelled by their table", "[unet]") {
  CHECK(spdec::config::kTimeEmbeddings.parse("fourier") == TimeEmbedding::fourier);
  CHECK(spdec::config::kTimeEmbeddings.parse("sinusoidal") == TimeEmbedding::sinusoidal);
  CHECK_FALSE(spdec::config::kTimeEmbeddings.parse("Fourier"));
  CHECK(std::string(spdec::config::name(TimeEmbedding::sinusoidal)) == "sinusoidal");
}
