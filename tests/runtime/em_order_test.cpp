// Euler–Maruyama strong order ½ for multiplicative noise, measured on the
// generated kernels' forward_step against geometric Brownian motion, whose
// exact solution given the Brownian path is known in closed form. (Additive
// noise, where EM is Milstein and strong order 1: linear_process_test.cpp.)
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "codegen/pipeline.hpp"
#include "runtime/kernels/process_kernels.hpp"
#include "test_support.hpp"

TEST_CASE("Euler-Maruyama: strong order 1/2 and weak order 1 for multiplicative noise",
          "[runtime][forward]") {
  // dU = μ U dt + σ U dW per pixel (white noise: pixels are independent
  // paths), μ = 0.5, σ = 0.8, U₀ = 1, T = 1. Exact: U_T = exp((μ − σ²/2) T + σ W_T),
  // which needs only W_T, so the reference has no discretisation error.
  // 64·64·64 = 262144 paths; increments drawn on the finest grid (2^7 steps)
  // and summed for the coarser ones (dt = 2^-3 … 2^-7), the same paths for all.
  //
  // Strong: E|U^EM_T − U_T| = C dt^½ + O(dt). Slope asserted in [0.4, 0.6]:
  // the Monte-Carlo error of the means is < 1 % (common paths), and the O(dt)
  // term bends the curve by a few per cent over this range.
  // Weak: E[U^EM_T] − E[U_T] = (1 + μ dt)^{T/dt} − e^{μT} exactly (EM's mean
  // is the noise-free chain's) = −μ² T e^{μT} dt / 2 + O(dt²), estimated as
  // the mean of U^EM_T − U_T over the common paths: each estimate is checked
  // against the exact value within 4 of its standard errors (≈ 2e-4, from
  // the sample), and the slope in [0.85, 1.15] (the standard error is ~12 % of
  // the smallest bias, 1.6e-3, which moves the fitted slope by ≤ 0.05).
  spdec::test::torch_setup();
  const auto process = std::make_shared<const spdec::lang::Process>(spdec::test::check_process(
      "process gbm\ndrift = 0.5 * u\ndiffusion = 0.8 * u\nboundary periodic\n"
      "time T = 1, dt = 0.01\n"));
  const auto program = std::make_shared<const spdec::codegen::StencilProgram>(
      spdec::codegen::build_program(*process));
  const auto kernels = spdec::runtime::make_compiled_kernels(process, program, at::kCPU);
  const std::int64_t finest = 128;
  const at::Tensor u0 = at::ones({64, 1, 64, 64}, spdec::test::f32());
  std::vector<at::Tensor> dw;
  at::Tensor w_T = at::zeros_like(u0, at::kDouble);
  for (std::int64_t i = 0; i < finest; ++i) {
    dw.push_back(at::randn_like(u0, at::kDouble) * std::sqrt(1.0 / static_cast<double>(finest)));
    w_T += dw.back();
  }
  const at::Tensor exact = at::exp((0.5 - 0.5 * 0.8 * 0.8) + 0.8 * w_T);
  std::vector<double> dts;
  std::vector<double> strong;
  std::vector<double> weak;
  for (const std::int64_t steps : {8, 16, 32, 64, 128}) {
    const double h = 1.0 / static_cast<double>(steps);
    const std::int64_t group = finest / steps;
    at::Tensor u = u0.clone();
    for (std::int64_t n = 0; n < steps; ++n) {
      at::Tensor increment = at::zeros_like(w_T);
      for (std::int64_t j = 0; j < group; ++j)
        increment += dw[static_cast<std::size_t>(n * group + j)];
      spdec::runtime::NoiseSource noise;
      noise.correlated = (increment / std::sqrt(h)).to(at::kFloat).contiguous();  // ζ = ΔW / √h
      u = kernels->forward_step(u, {}, static_cast<double>(n) * h, h, noise);
    }
    const at::Tensor error = u.to(at::kDouble) - exact;
    dts.push_back(h);
    strong.push_back(error.abs().mean().item<double>());
    weak.push_back(std::abs(error.mean().item<double>()));
    const double standard_error =
        error.std().item<double>() / std::sqrt(static_cast<double>(error.numel()));
    const double exact_bias = std::pow(1 + 0.5 * h, static_cast<double>(steps)) - std::exp(0.5);
    INFO("dt " << h << ": mean error " << error.mean().item<double>() << ", exact " << exact_bias
               << ", standard error " << standard_error);
    CHECK(std::abs(error.mean().item<double>() - exact_bias) < 4 * standard_error);
  }
  const double s_strong = spdec::test::loglog_slope(dts, strong);
  const double s_weak = spdec::test::loglog_slope(dts, weak);
  INFO("strong errors " << strong[0] << " … " << strong.back() << ", slope " << s_strong);
  INFO("weak errors " << weak[0] << " … " << weak.back() << ", slope " << s_weak);
  CHECK(s_strong > 0.4);
  CHECK(s_strong < 0.6);
  CHECK(s_weak > 0.85);
  CHECK(s_weak < 1.15);
}
