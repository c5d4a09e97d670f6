// The decoupled reading's noise decays with the drift's pointwise linear
// rate (lang/linear_rate.hpp, runtime/process/decoupled_model.cpp):
// dN = c(t) N dt + g dW beside the flow Φ_t(x₀). Oracles: the exact linear
// reading of the same drift (VP), the recursion the kernels take written
// out in double, the terminal law edge_preserving's header promises
// (N(0, I)), and the covariance of the noise's bridge.
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "library_model.hpp"
#include "runtime/process/bind.hpp"
#include "runtime/spectral/linear_process.hpp"
#include "test_support.hpp"

namespace {

using spdec::runtime::NoiseSource;

constexpr std::int64_t kSide = 8;

/// VP's drift and noise, made decoupled by a diffusion that reads u0 with
/// a weight below float resolution (1 + 1e-30·u0 is 1 in float), so that
/// the decoupled model runs on exactly VP's g.
constexpr const char* kDecoupledVp =
    "process vp_decoupled\n"
    "schedule beta(t) = linear(0.1, 20, t)\n"
    "drift     = -0.5 * beta(t) * u\n"
    "diffusion = sqrt(beta(t)) * (1 + 1e-30 * u0)\n"
    "semantics decoupled\n"
    "time T = 1, t0 = 1e-3, dt = 1e-3\n";

/// A Perona–Malik flow with VP's damping and noise: nonlinear, so
/// decoupled, and its Σ̄_t is the same for every x₀ (g reads neither u nor u0).
constexpr const char* kDampedPeronaMalik =
    "process damped_perona_malik\n"
    "schedule beta(t) = linear(0.1, 20, t)\n"
    "drift     = div(grad(u) / (1 + norm2(grad(u)) / 0.01)) - 0.5 * beta(t) * u\n"
    "diffusion = sqrt(beta(t))\n"
    "semantics decoupled\n"
    "time T = 1, t0 = 1e-3, dt = 1e-3\n";

std::unique_ptr<spdec::runtime::ProcessModel> bind_text(const char* text) {
  auto process = std::make_shared<const spdec::lang::Process>(spdec::test::check_process(text));
  spdec::runtime::Binding binding;
  binding.backend = spdec::config::Backend::compiled;
  binding.height = kSide;
  binding.width = kSide;
  return spdec::runtime::bind_process(process, binding).model;
}

at::Tensor images(std::int64_t n) {
  at::Tensor x = at::full({n, 1, kSide, kSide}, -0.6, spdec::test::f32());
  x.narrow(3, 2, 3).fill_(0.9);
  x.narrow(2, 5, 2).fill_(0.1);
  return x.contiguous();
}

double beta(double t) { return 0.1 + 19.9 * t; }

}  // namespace

TEST_CASE("noise decay: the decoupled reading of VP is its exact linear reading",
          "[runtime][model][noise_decay]") {
  spdec::test::torch_setup();
  auto decoupled = bind_text(kDecoupledVp);
  REQUIRE(decoupled->kind() == spdec::runtime::ModelKind::decoupled);
  auto linear = spdec::test::library_model("vp.spde", kSide);
  REQUIRE(linear->linear() != nullptr);
  const at::Tensor x0 = images(2);
  for (const double t : {0.1, 0.3, 0.5, 0.75, 1.0}) {
    INFO("t = " << t);
    const double exact_var = linear->linear()->variance(t).mean().item<double>();
    const double exact_mean = linear->linear()->mean_factor(t).mean().item<double>();
    const double var =
        decoupled->covariance(t, x0, x0).pixel_scale().square().mean().item<double>();
    // The kernels freeze β at each step's start (a left sum), which lowers
    // ∫₀ᵗβ by ½·β'·t·Δt ≤ 0.00995 and so each of var = 1 − e^{−∫β} and the
    // mean factor e^{−½∫β} by at most 1 %; the rest is float rounding.
    CHECK(var == Approx(exact_var).epsilon(0.01));
    const std::vector<double> times{t};
    // Φ_t(x₀) is the Euler flow of the same drift: Π(1 − ½β_k Δt) ≈ e^{−½∫β}.
    spdec::runtime::NoiseSource noise;
    const auto drawn = decoupled->perturb(x0.narrow(0, 0, 1).contiguous(), times, noise);
    const double ratio = (drawn.mean / x0.narrow(0, 0, 1)).mean().item<double>();
    CHECK(ratio == Approx(exact_mean).epsilon(0.02));
  }
  // At T the noise is VP's: variance 1 (not ∫β = 10.05 as when N was added
  // undamped), at any Δt for VP since the step is exact for frozen β.
  const double terminal =
      decoupled->covariance(1.0, x0, x0).pixel_scale().square().max().item<double>();
  CHECK(terminal == Approx(1.0).epsilon(1e-4));
}

TEST_CASE("noise decay: a nonlinear flow with VP's damping has VP's noise and signal scale",
          "[runtime][model][noise_decay]") {
  spdec::test::torch_setup();
  auto model = bind_text(kDampedPeronaMalik);
  REQUIRE(model->kind() == spdec::runtime::ModelKind::decoupled);
  REQUIRE(model->process().training.per_mode_scales);
  auto linear = spdec::test::library_model("vp.spde", kSide);
  const std::vector<double> times{0.1, 0.5, 1.0};
  const auto scales = model->mode_scales(times);
  for (std::size_t i = 0; i < times.size(); ++i) {
    INFO("t = " << times[i]);
    const auto k = static_cast<std::int64_t>(i);
    // The same left-sum argument as above: within 1 % of VP's closed form.
    CHECK(scales.m[k].mean().item<double>() ==
          Approx(linear->linear()->mean_factor(times[i]).mean().item<double>()).epsilon(0.01));
    CHECK(scales.s2[k].mean().item<double>() ==
          Approx(linear->linear()->variance(times[i]).mean().item<double>()).epsilon(0.01));
  }
}

TEST_CASE("noise decay: the kernels' variance is the recursion written out in double",
          "[runtime][model][noise_decay]") {
  spdec::test::torch_setup();
  auto model = spdec::test::library_model("edge_preserving.spde", kSide);
  REQUIRE(model->kind() == spdec::runtime::ModelKind::decoupled);
  const at::Tensor x0 = images(1);
  const double dt = model->process().time.dt;
  auto& kernels = model->kernels();
  // v_{k+1} = e^{z} v_k + Δt φ(z) g_k², z = −β(t_k) Δt, with g_k the
  // diffusion kernel at step k (edge_preserving's g reads only u0 and t).
  at::Tensor v = at::zeros({1, 1, kSide, kSide}, spdec::test::f64());
  std::vector<at::Tensor> at_steps{v.clone()};
  for (int k = 0; k < 1000; ++k) {
    const double tk = k * dt;
    const at::Tensor g = kernels.diffusion(x0, x0, tk).to(at::kDouble);
    const double z = -beta(tk) * dt;
    v = std::exp(z) * v + dt * (std::expm1(z) / z) * g * g;
    at_steps.push_back(v.clone());
  }
  for (const int k : {100, 400, 1000}) {
    INFO("step " << k);
    const at::Tensor got = model->covariance(k * dt, x0, x0).pixel_scale().square().to(at::kDouble);
    // 1000 float32 steps: relative rounding ≲ 1e-4.
    CHECK(spdec::test::max_abs_diff(got, at_steps[static_cast<std::size_t>(k)]) <
          1e-4 * at_steps[static_cast<std::size_t>(k)].max().item<double>());
  }
  // The header's promise: X_T ≈ N(0, I). Φ_T(x₀) = Π(1 − ½β Δt) x₀ ≈ e^{−5} x₀,
  // and the edges' damping of g has faded long before the last steps, whose
  // weight dominates: every pixel's variance within 1 % of 1 (it was 10.05).
  const at::Tensor terminal = at_steps.back();
  CHECK(terminal.min().item<double>() > 0.99);
  CHECK(terminal.max().item<double>() < 1.0 + 1e-6);
  NoiseSource noise;
  const std::vector<double> at_t{1.0};
  const auto drawn = model->perturb(x0, at_t, noise);
  CHECK(drawn.mean.abs().max().item<double>() < 0.01);
}

TEST_CASE("noise decay: the posterior step bridges the damped noise",
          "[runtime][model][noise_decay]") {
  spdec::test::torch_setup();
  auto model = spdec::test::library_model("edge_preserving.spde", kSide);
  const std::int64_t n = 4000;
  const at::Tensor x0 = images(1).expand({n, 1, kSide, kSide}).contiguous();
  const double t = 0.6;
  const double s = 0.3;
  const auto at_t = model->covariance(t, x0.narrow(0, 0, 1), x0.narrow(0, 0, 1));
  const auto at_s = model->covariance(s, x0.narrow(0, 0, 1), x0.narrow(0, 0, 1));
  const at::Tensor v_t = at_t.pixel_scale().square().to(at::kDouble);
  const at::Tensor v_s = at_s.pixel_scale().square().to(at::kDouble);
  // x_t = Φ_t(x₀) + N_t with the exact x̂₀ = x₀.
  NoiseSource noise;
  noise.seed = 11;
  const std::vector<double> times(static_cast<std::size_t>(n), t);
  const auto drawn = model->perturb(x0, times, noise);
  spdec::runtime::PosteriorStep step;
  step.eta = 1.0;
  NoiseSource step_noise;
  step_noise.seed = 12;
  const at::Tensor xs = model->posterior_step(drawn.xt, t, s, x0, step, step_noise);
  const std::vector<double> at_s_times(1, s);
  const at::Tensor flow_s = model->perturb(x0.narrow(0, 0, 1), at_s_times, noise).mean;
  const at::Tensor n_t = ((drawn.xt - drawn.mean).to(at::kDouble) / v_t.sqrt());
  const at::Tensor n_s = ((xs - flow_s).to(at::kDouble) / v_s.sqrt());
  // N_s has variance v_s and Cov(N_s, N_t) = a v_s, a = e^{∫ₛᵗ c} =
  // e^{−½∫ₛᵗ β} ≈ 0.257, so corr = a √(v_s / v_t) ≈ 0.20 per pixel (the
  // undamped bridge gave √(v_s / v_t) ≈ 0.5). Each pixel's estimate from
  // n = 4000 draws has a standard error ≈ 1/√n = 0.016: 0.08 is five of them
  // for every pixel, and 0.01 five for the mean over the 64 pixels. The
  // variance pooled over 256k values has a standard error of 0.003.
  const double a = std::exp(-0.5 * (0.1 * (t - s) + 0.5 * 19.9 * (t * t - s * s)));
  CHECK(n_s.square().mean().item<double>() == Approx(1.0).margin(0.015));
  const at::Tensor expected_corr = a * (v_s / v_t).sqrt();
  const at::Tensor error = (n_s * n_t).mean(0, true) - expected_corr;
  CHECK(error.abs().max().item<double>() < 0.08);
  CHECK(std::abs(error.mean().item<double>()) < 0.01);
}
