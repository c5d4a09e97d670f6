// The prior drawn from the data (runtime/sampling/data_prior.hpp): which
// processes need it, and that a draw is keyed by its sample id. That it
// gives the true marginal at T is checked where it matters, by the sampler:
// stable_sampler_test.cpp's three-image mixture starts from it and must
// recover the mixture's weights.
#include "runtime/sampling/data_prior.hpp"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "library_model.hpp"
#include "oracle_data.hpp"
#include "test_support.hpp"

namespace {

namespace sr = spdec::runtime;

constexpr std::int64_t kSide = 8;

std::unique_ptr<sr::ProcessModel> model_of(const std::string& file) {
  sr::ModelOptions options;
  options.flow = sr::FlowScheme::automatic;
  return spdec::test::library_model(file, kSide, options);
}

/// kDataShareImages rows cycling through the three oracle images.
at::Tensor many_images() {
  const at::Tensor three = spdec::test::three_images(kSide);
  const std::int64_t repeats = (sr::kDataShareImages + 2) / 3;
  return three.repeat({repeats, 1, 1, 1}).narrow(0, 0, sr::kDataShareImages);
}

}  // namespace

TEST_CASE("data prior: x0's share of X_T tells the processes that keep it from those that forget",
          "[runtime][prior]") {
  spdec::test::torch_setup(20261207, 1);
  const at::Tensor images = many_images();
  // The estimator's standard error is ≈ 1/√(images·pixels) = 1/√(1024·64)
  // ≈ 0.004 of the variance. VP forgets x₀ up to m_T² = e^{−∫β} ≈ 5e-5:
  // below 0.02 is five standard errors above what it keeps.
  const double vp = sr::data_share_at_end(*model_of("vp.spde"), images, 7);
  const double ve = sr::data_share_at_end(*model_of("ve.spde"), images, 7);
  INFO("vp " << vp << ", ve " << ve);
  CHECK(vp < 0.02);
  CHECK(ve < 0.02);
  // The heat processes keep x₀'s coarse modes at T. Five standard errors
  // (0.02) separate "keeps some of x₀" from "forgets it" whatever the
  // amount; heat's noise at T is small (std ≈ 0.2 for α₂ ≤ 0.5), so most of
  // its X_T's spread is x₀'s (the measured share is 0.84). The anisotropic
  // process ends with noise std ≈ 0.87 and keeps less (0.08 measured) —
  // still eight times the threshold at which `auto` draws from the data.
  const double heat = sr::data_share_at_end(*model_of("heat.spde"), images, 7);
  const double anisotropic = sr::data_share_at_end(*model_of("perona_malik.spde"), images, 7);
  INFO("heat " << heat << ", perona_malik " << anisotropic);
  CHECK(heat > 0.5);
  CHECK(anisotropic > 0.02);
}

TEST_CASE("data prior: a draw depends on its sample id and seed alone", "[runtime][prior]") {
  spdec::test::torch_setup(20261207, 1);
  auto model = model_of("heat.spde");
  const at::Tensor images = spdec::test::three_images(kSide);
  const auto ids = [](std::int64_t first, std::int64_t n) {
    return at::arange(first, first + n, at::TensorOptions().dtype(at::kLong));
  };
  const at::Tensor all = sr::simulate_prior(*model, images, 11, ids(0, 16), at::kCPU);
  const at::Tensor tail = sr::simulate_prior(*model, images, 11, ids(8, 8), at::kCPU);
  REQUIRE(all.sizes() == at::IntArrayRef({16, 1, kSide, kSide}));
  CHECK(at::equal(all.narrow(0, 8, 8), tail));
  const at::Tensor other = sr::simulate_prior(*model, images, 12, ids(0, 16), at::kCPU);
  CHECK_FALSE(at::allclose(all, other));
}
