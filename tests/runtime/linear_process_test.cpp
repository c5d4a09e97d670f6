// Exact Gaussian marginals of linear spectral processes (runtime/spectral/
// linear_process.hpp, docs/design.md §2) against closed forms, against long
// forward simulations with the reference kernels, against Gaussian
// conditioning identities; and Euler–Maruyama's convergence orders measured
// against the exact spectral solution.
//
// Tolerances are argued next to each check.
#include "runtime/spectral/linear_process.hpp"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "codegen/pipeline.hpp"
#include "runtime/kernels/process_kernels.hpp"
#include "runtime/spectral/noise_operator.hpp"
#include "runtime/spectral/spectral_basis.hpp"
#include "test_support.hpp"

namespace {

using spdec::runtime::LinearProcess;
using spdec::runtime::QPower;
using spdec::test::f64;

std::shared_ptr<const spdec::lang::Process> library(const std::string& file) {
  return std::make_shared<const spdec::lang::Process>(
      spdec::test::check_library_file("library/" + file));
}

std::shared_ptr<const spdec::lang::Process> source(const std::string& text) {
  return std::make_shared<const spdec::lang::Process>(spdec::test::check_process(text));
}

double max_rel_diff(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).abs() / b.abs().clamp_min(1e-300)).max().item<double>();
}

}  // namespace

TEST_CASE("linear process: VE and VP against their closed forms", "[runtime][linear]") {
  // The quadrature (8-point Gauss–Legendre on panels ≤ T/512, λh ≤ 1) is exact
  // to rounding for these smooth schedules: the tolerances 1e-11 (relative)
  // leave room only for rounding accumulated over ~512 panel updates (each
  // ~1e-16 relative) and for ddt, which the host evaluates symbolically.
  spdec::test::torch_setup();
  {
    const LinearProcess ve(library("ve.spde"), 6, 5);
    const double smin = 0.01;
    const double smax = 50;
    for (double t : {1e-5, 0.1, 0.37, 0.5, 1.0}) {
      INFO("VE t = " << t);
      const double sigma = smin * std::pow(smax / smin, t);
      const double v = sigma * sigma - smin * smin;  // σ(t)² − σ(0)²
      CHECK(spdec::test::max_abs_diff(ve.mean_factor(t), at::ones({6, 5}, f64())) == 0.0);
      CHECK(max_rel_diff(ve.variance(t), at::full({6, 5}, v, f64())) < 1e-11);
    }
  }
  {
    const LinearProcess vp(library("vp.spde"), 6, 5);
    for (double t : {1e-3, 0.1, 0.5, 1.0}) {
      INFO("VP t = " << t);
      const double integral = 0.1 * t + 0.5 * (20 - 0.1) * t * t;  // ∫₀ᵗ β
      const double m = std::exp(-0.5 * integral);
      CHECK(max_rel_diff(vp.mean_factor(t), at::full({6, 5}, m, f64())) < 1e-13);
      // v = 1 − m² (white noise, q = 1): absolute 1e-13 (v ≤ 1).
      CHECK(spdec::test::max_abs_diff(vp.variance(t), at::full({6, 5}, 1 - m * m, f64())) < 1e-13);
    }
  }
}

TEST_CASE("linear process: heat against its closed form and an independent quadrature",
          "[runtime][linear]") {
  // heat.spde: a(s) = 0.5·128^{s/2} (size = 32, T = 2), g(s) = 0.01·50^{s/2},
  // c = 0, white noise. φ_k(t) = −κ_k A(t), A(t) = 0.5 (128^{t/2} − 1)/(ln 128 / 2).
  spdec::test::torch_setup();
  const std::int64_t H = 6;
  const std::int64_t W = 5;
  const LinearProcess heat(library("heat.spde"), H, W);
  const at::Tensor kappa =
      spdec::runtime::laplacian_eigenvalues(spdec::runtime::BasisKind::dct, H, W);
  const double lr = std::log(128.0) / 2;
  auto A = [&](double s) { return 0.5 * (std::exp(lr * s) - 1) / lr; };
  auto g2 = [&](double s) { return 1e-4 * std::pow(50.0, s); };
  for (double t : {0.05, 0.5, 1.3, 2.0}) {
    INFO("t = " << t);
    // φ: rounding only (|φ| ≤ 8·A(2) ≈ 210; relative 1e-12).
    CHECK(max_rel_diff(heat.log_mean_factor(t) + 1e-300, -kappa * A(t) + 1e-300) < 1e-12);
    // v by composite Simpson on 2·10⁵ intervals in double: the fastest mode
    // has rate 2aκ ≤ 2·64·7.5 ≈ 1000, so λh ≤ 0.01 and Simpson's relative
    // error ≤ (λh)⁴/180 ≈ 6e-11; tolerance 1e-9.
    const int n = 200000;
    const double h = t / n;
    const auto kap = kappa.contiguous();
    at::Tensor v = at::zeros({H, W}, f64());
    for (std::int64_t j = 0; j < H; ++j) {
      for (std::int64_t i = 0; i < W; ++i) {
        const double k = kap[j][i].item<double>();
        double sum = 0;
        for (int q = 0; q <= n; ++q) {
          const double s = q * h;
          const double w = (q == 0 || q == n) ? 1.0 : (q % 2 == 1 ? 4.0 : 2.0);
          sum += w * g2(s) * std::exp(-2.0 * k * (A(t) - A(s)));
        }
        v[j][i] = sum * (h / 3);
      }
    }
    CHECK(max_rel_diff(heat.variance(t), v) < 1e-9);
    // the constant mode: v = ∫ g² = 1e-4 (50^t − 1)/ln 50, closed form.
    const double v0 = 1e-4 * (std::pow(50.0, t) - 1) / std::log(50.0);
    CHECK(std::abs(heat.variance(t)[0][0].item<double>() / v0 - 1) < 1e-12);
  }
}

TEST_CASE("linear process: two_subspace variance is the integral of its rates",
          "[runtime][linear]") {
  // No drift, diffusion 1, filter² = g(t) on the 13 modes with κ ≤ κ_cut, h(t)
  // elsewhere, both learnable (log-linear knots on [t0, T], constant before
  // t0). Initially g = h = rate_min·r^t with r = rate_max/rate_min, which the
  // knots represent exactly, so ∫₀ᵗ g = t0·g(t0) + rate_min (r^t − r^{t0})/ln r.
  // Tolerance 1e-11 relative: rounding only (breakpoints at the knots make
  // each panel's integrand smooth).
  spdec::test::torch_setup();
  const auto process = library("two_subspace.spde");
  const double t0 = 1e-5;
  const double log_r = 2 * std::log(50 / 0.01);
  const double rate_min = 2 * std::log(50 / 0.01) * 1e-4;
  const double r = std::exp(log_r);
  auto integral = [&](double t) {
    return t0 * rate_min * std::pow(r, t0) + rate_min * (std::pow(r, t) - std::pow(r, t0)) / log_r;
  };
  const at::Tensor kappa =
      spdec::runtime::laplacian_eigenvalues(spdec::runtime::BasisKind::dct, 32, 32);
  const double kappa_cut = 4 * std::pow(std::sin(std::numbers::pi * 3.5 / 64), 2);
  const at::Tensor low = kappa <= kappa_cut;
  REQUIRE(low.sum().item<std::int64_t>() == 13);
  {
    const LinearProcess lp(process, 32, 32);
    for (double t : {0.2, 0.75, 1.0}) {
      INFO("t = " << t);
      CHECK(max_rel_diff(lp.variance(t), at::full({32, 32}, integral(t), f64())) < 1e-11);
    }
  }
  {
    // Learned knots: g doubled, h unchanged → the low modes' variance doubles.
    spdec::runtime::KnotValues knots;
    for (const auto& learnable : process->learnables) knots.push_back(learnable.init_values);
    for (double& v : knots[0]) v *= 2;
    const LinearProcess lp(process, 32, 32, &knots);
    const double t = 0.6;
    const at::Tensor expected = at::where(low, at::full({32, 32}, 2 * integral(t), f64()),
                                          at::full({32, 32}, integral(t), f64()));
    CHECK(max_rel_diff(lp.variance(t), expected) < 1e-11);
  }
}

TEST_CASE("linear process: refuses processes without exact marginals", "[runtime][linear]") {
  spdec::test::torch_setup();
  CHECK_THROWS_AS(LinearProcess(library("edge_preserving.spde"), 6, 5), std::invalid_argument);
  CHECK_THROWS_AS(LinearProcess(library("perona_malik.spde"), 6, 5), std::invalid_argument);
  CHECK_THROWS_WITH(LinearProcess(source("process p\ndrift = lap(u)\ndiffusion = 1 + x\n"
                                         "time T = 1, dt = 0.01\n"),
                                  6, 5),
                    Catch::Contains("varies in space"));
}

TEST_CASE("linear process: exact transition satisfies the Gaussian conditioning identities",
          "[runtime][linear]") {
  // Per mode, in double: marginalising x_t over p(x_t | x0) must give back
  // p(x_s | x0): mean_x0 + mean_xt·m_t = m_s and var + mean_xt²·v_t = v_s;
  // and Chapman–Kolmogorov v_t = m_{t|s}² v_s + v_{t|s}. Both sides are
  // products of a few double numbers of size ≤ 1e4: tolerance 1e-11 relative
  // to v_s (resp. m_s) plus 1e-300.
  spdec::test::torch_setup();
  for (const auto& process :
       {library("heat.spde"), library("vp.spde"), library("ve.spde"),
        source("process p\ndrift = 0.3 * lap(u) - (0.2 + t) * u\ndiffusion = 1 + t\n"
               "noise filter(kappa) = (1 + kappa * t)^(-0.5)\nboundary periodic\n"
               "time T = 1, dt = 0.01\n")}) {
    INFO(process->name);
    const LinearProcess lp(process, 6, 5);
    const double T = lp.end_time();
    const std::vector<double> s = {0.1 * T, 0.4 * T, 0.7 * T, 0.2 * T};
    const std::vector<double> t = {0.15 * T, 0.41 * T, T, 0.9 * T};
    const auto f = lp.transition_factors(s, t);
    const at::Tensor m_s = lp.mean_factor(s);
    const at::Tensor m_t = lp.mean_factor(t);
    const at::Tensor v_s = lp.variance(s);
    const at::Tensor v_t = lp.variance(t);
    CHECK(((f.mean_x0 + f.mean_xt * m_t - m_s).abs() / (m_s.abs() + 1e-300)).max().item<double>() <
          1e-11);
    CHECK(((f.variance + f.mean_xt.square() * v_t - v_s).abs() / (v_s + 1e-300))
              .max()
              .item<double>() < 1e-11);
    for (std::size_t i = 0; i < s.size(); ++i) {
      const at::Tensor m_ts = lp.mean_factor(t[i]) / lp.mean_factor(s[i]);
      const at::Tensor ck = m_ts.square() * lp.variance(s[i]) + lp.variance_between(s[i], t[i]);
      CHECK(max_rel_diff(ck, lp.variance(t[i])) < 1e-11);
    }
    // The operators: Σ^{1/2} Σ^{1/2} = Σ and Σ^{-1} Σ = I on images.
    const at::Tensor x = at::randn({4, 2, 6, 5}, f64());
    const at::Tensor half = lp.apply_covariance(x, t, QPower::half);
    CHECK(spdec::test::max_abs_diff(lp.apply_covariance(half, t, QPower::half),
                                    lp.apply_covariance(x, t, QPower::one)) <
          1e-10 * lp.variance(t).max().item<double>());
    CHECK(spdec::test::max_abs_diff(
              lp.apply_covariance(lp.apply_covariance(x, t, QPower::one), t, QPower::minus_one),
              x) < 1e-9);
  }
}

TEST_CASE("linear process: exact marginal against a long forward simulation", "[runtime][linear]") {
  // Euler–Maruyama with the reference kernels (float32, Philox noise, correlated
  // through the NoiseOperator where Q ≠ I), dt = 2e-3, n = 4096 samples from
  // one fixed x0 on 6×5, to t = 0.3 (150 steps: ~10 s per process). Per mode (the process is
  // diagonal in the basis, and an orthonormal transform keeps white noise white) the sample
  // variance has relative standard deviation √(2/n) = 2.2 %; the sample mean
  // has standard deviation √(v/n). EM's bias per mode (rate λ = aκ − c ≤ 7.4
  // here) is ≈ λ dt / 2 ≤ 0.75 % on the variance and ≤ t λ² dt / 2 ≤ 2 % of
  // |m x̂0| on the mean (we allow 5 %); the left-point g(t_k)² of a growing
  // schedule (heat: d ln g²/dt = ln 50) adds ≈ 0.4 %: 1.5 % covers the
  // variance bias. Per mode we allow 5 standard deviations plus the bias (30 modes: a
  // false failure has probability ~1e-5); the average over the 30
  // independent modes of v̂/v − 1 has standard deviation 0.4 %: we allow
  // 5σ + 1.5 %.
  spdec::test::torch_setup();
  const std::int64_t H = 6;
  const std::int64_t W = 5;
  const std::int64_t n = 4096;
  for (const auto& process :
       {library("heat.spde"),
        source("process p\ndrift = 0.3 * lap(u) - (0.5 + t) * u\ndiffusion = 1 + t\n"
               "noise filter(kappa) = (1 + kappa)^(-0.5)\nboundary periodic\n"
               "time T = 1, dt = 0.001\n")}) {
    INFO(process->name);
    const LinearProcess lp(process, H, W);
    const auto program = std::make_shared<const spdec::codegen::StencilProgram>(
        spdec::codegen::build_program(*process));
    const auto kernels = spdec::runtime::make_reference_kernels(process, program);
    const double t_end = 0.3;
    const double dt = 2e-3;
    const auto steps = static_cast<std::int64_t>(std::llround(t_end / dt));
    at::Tensor x0_one = at::linspace(-1, 1, H * W, spdec::test::f32()).reshape({1, 1, H, W});
    x0_one = x0_one * x0_one.flip(-1) + 0.3;
    at::Tensor u = x0_one.expand({n, 1, H, W}).contiguous();
    for (std::int64_t k = 0; k < steps; ++k) {
      spdec::runtime::NoiseSource noise;
      noise.seed = 11;
      noise.step = static_cast<std::uint64_t>(k);
      if (!lp.noise().is_identity()) {
        const at::Tensor white = kernels->noise(u.sizes(), noise, at::kCPU);
        noise.correlated = lp.noise().apply_sqrt(white, k * dt).contiguous();
      }
      u = kernels->forward_step(u, at::Tensor(), k * dt, dt, noise);
    }
    const std::vector<double> times(1, t_end);
    const at::Tensor x0d = x0_one.to(at::kDouble);
    const at::Tensor mean_hat = lp.basis().transform(lp.marginal_mean(x0d, times))[0][0];
    const at::Tensor v = lp.variance(t_end);
    at::Tensor coeffs = lp.basis().transform(u.to(at::kDouble)).select(1, 0);  // [n, H, W]
    if (coeffs.is_complex()) {
      // FFT: a real mode's two halves; Re and Im each carry v/2 (v at the
      // self-conjugate modes, whose Im is 0). Compare E|ĉ − E ĉ|² with v.
      const at::Tensor m = coeffs.mean(0);
      const at::Tensor var = (coeffs - m).abs().square().sum(0) / static_cast<double>(n - 1);
      const at::Tensor mean_exact = lp.basis().transform(lp.marginal_mean(x0d, times))[0][0];
      CHECK(((m - mean_exact).abs() - 5 * at::sqrt(v / n) - 0.05 * mean_exact.abs())
                .max()
                .item<double>() < 0);
      const at::Tensor ratio = var / v;
      CHECK(((ratio - 1).abs() - 5 * std::sqrt(2.0 / n) - 0.015).max().item<double>() < 0);
      CHECK(std::abs(ratio.mean().item<double>() - 1) < 5 * std::sqrt(2.0 / n / (H * W)) + 0.015);
    } else {
      const at::Tensor m = coeffs.mean(0);
      const at::Tensor var = coeffs.var(0);
      CHECK(((m - mean_hat).abs() - 5 * at::sqrt(v / n) - 0.05 * mean_hat.abs())
                .max()
                .item<double>() < 0);
      const at::Tensor ratio = var / v;
      CHECK(((ratio - 1).abs() - 5 * std::sqrt(2.0 / n) - 0.015).max().item<double>() < 0);
      CHECK(std::abs(ratio.mean().item<double>() - 1) < 5 * std::sqrt(2.0 / n / (H * W)) + 0.015);
    }
  }
}

TEST_CASE("linear process: Euler-Maruyama strong and weak order 1 for additive noise",
          "[runtime][linear]") {
  // dU = (0.5 lap(u) − 0.5 u) dt + 0.5 dW, white noise, neumann 6×5, T = 1.
  // With additive noise the Milstein correction vanishes, so EM is Milstein
  // and has strong order 1 (not ½); its weak order is 1.
  //
  // Strong: the same Brownian paths for every dt = 2^-k (k = 3..7): fine
  // increments on 2^12 steps, summed into the coarse ones. The exact solution
  // per mode, X̂_T = m(T) x̂0 + 0.5 Σ_fine e^{φ(T) − φ(mid)} ΔŴ, is exact up
  // to the midpoint weights' error, rms ≈ 0.5 λ h_f √(T/12) ≈ 2e-4 (λ ≤ 4.5,
  // h_f = 2^-12), ≥ 30× below the k = 7 EM error. EM's drift is the reference
  // kernels' drift(). The slope is asserted in [0.8, 1.2]: theory gives 1;
  // at k = 3 λdt = 0.56, so second-order terms bend the curve by up to ~25 %
  // there, and the Monte-Carlo error of the 256-path averages (common paths,
  // correlated across k) moves the fitted slope by a few percent.
  //
  // Weak: for a linear chain with additive noise E[X^EM] is the noise-free EM
  // chain and Cov[X^EM] follows P ← M P Mᵀ + σ² dt I, M = I + dt·b (b the
  // kernels' drift, applied to P's columns): both computed exactly (no Monte
  // Carlo) and compared with m(T)x0 and v(T). Theory: error = C dt + O(dt²),
  // slope in [0.9, 1.1].
  spdec::test::torch_setup();
  const std::int64_t H = 6;
  const std::int64_t W = 5;
  const auto process = source(
      "process p\ndrift = 0.5 * lap(u) - 0.5 * u\ndiffusion = 0.5\n"
      "boundary neumann\ntime T = 1, dt = 0.01\n");
  const LinearProcess lp(process, H, W);
  const auto program = std::make_shared<const spdec::codegen::StencilProgram>(
      spdec::codegen::build_program(*process));
  const auto kernels = spdec::runtime::make_reference_kernels(process, program);
  const double T = 1.0;
  const int fine_log2 = 12;
  const std::int64_t fine = std::int64_t{1} << fine_log2;
  const double hf = T / static_cast<double>(fine);
  const std::int64_t paths = 256;
  const at::Tensor x0 =
      (at::linspace(-1, 1, H * W, f64()).reshape({1, 1, H, W}) * 2).expand({paths, 1, H, W});
  const std::vector<int> ks = {3, 4, 5, 6, 7};

  // Brownian increments on the k = 7 grid (summed from fine ones) and the exact solution.
  const std::int64_t coarse7 = std::int64_t{1} << 7;
  const std::int64_t per7 = fine / coarse7;
  std::vector<at::Tensor> dw7;
  const at::Tensor logm_T = lp.log_mean_factor(T);
  at::Tensor noise_part = at::zeros({paths, 1, H, W}, f64());
  for (std::int64_t c = 0; c < coarse7; ++c) {
    at::Tensor acc = at::zeros({paths, 1, H, W}, f64());
    for (std::int64_t j = 0; j < per7; ++j) {
      const std::int64_t i = c * per7 + j;
      const at::Tensor dw = at::randn({paths, 1, H, W}, f64()) * std::sqrt(hf);
      acc += dw;
      const at::Tensor weight = at::exp(logm_T - lp.log_mean_factor((i + 0.5) * hf));
      noise_part += lp.basis().multiply(dw, weight);
    }
    dw7.push_back(acc);
  }
  const std::vector<double> Ts(paths, T);
  const at::Tensor exact = lp.marginal_mean(x0, Ts) + 0.5 * noise_part;

  std::vector<double> dts;
  std::vector<double> strong;
  std::vector<double> weak_mean;
  std::vector<double> weak_var;
  const at::Tensor mean_exact =
      lp.basis().transform(lp.marginal_mean(x0.narrow(0, 0, 1), {Ts.data(), 1}))[0][0];
  const at::Tensor var_exact = lp.variance(T);
  for (int k : ks) {
    const std::int64_t steps = std::int64_t{1} << k;
    const double dt = T / static_cast<double>(steps);
    const std::int64_t group = coarse7 / steps;
    at::Tensor u = x0.clone();
    for (std::int64_t n = 0; n < steps; ++n) {
      at::Tensor dw = at::zeros_like(u);
      for (std::int64_t j = 0; j < group; ++j) dw += dw7[static_cast<std::size_t>(n * group + j)];
      u = u + dt * kernels->drift(u, at::Tensor(), n * dt) + 0.5 * dw;
    }
    dts.push_back(dt);
    strong.push_back((u - exact).square().sum({1, 2, 3}).sqrt().mean().item<double>());
    // Weak: mean (noise-free chain) and covariance (P ← M P Mᵀ + σ² dt I).
    at::Tensor m = x0.narrow(0, 0, 1).clone();
    at::Tensor P = at::zeros({H * W, H * W}, f64());
    auto apply_m = [&](const at::Tensor& cols, double t) {  // M applied to each row as an image
      const at::Tensor img = cols.reshape({H * W, 1, H, W});
      return (img + dt * kernels->drift(img, at::Tensor(), t)).reshape({H * W, H * W});
    };
    for (std::int64_t n = 0; n < steps; ++n) {
      m = m + dt * kernels->drift(m, at::Tensor(), n * dt);
      P = apply_m(apply_m(P, n * dt).t().contiguous(), n * dt) + 0.25 * dt * at::eye(H * W, f64());
    }
    const at::Tensor m_hat = lp.basis().transform(m)[0][0];
    // Per-mode variance: diag(Φᵀ P Φ) via the basis applied to P's rows and columns.
    const at::Tensor Pm = lp.basis().transform(P.reshape({H * W, H, W})).reshape({H * W, H * W});
    const at::Tensor Pmm =
        lp.basis().transform(Pm.t().contiguous().reshape({H * W, H, W})).reshape({H * W, H * W});
    const at::Tensor v_hat = Pmm.diagonal().reshape({H, W});
    weak_mean.push_back((m_hat - mean_exact).abs().max().item<double>());
    weak_var.push_back((v_hat - var_exact).abs().max().item<double>());
  }
  const double s_strong = spdec::test::loglog_slope(dts, strong);
  const double s_mean = spdec::test::loglog_slope(dts, weak_mean);
  const double s_var = spdec::test::loglog_slope(dts, weak_var);
  for (std::size_t i = 0; i < dts.size(); ++i) {
    WARN("dt " << dts[i] << " strong " << strong[i] << " weak mean " << weak_mean[i] << " weak var "
               << weak_var[i]);
  }
  WARN("slopes: strong " << s_strong << ", weak mean " << s_mean << ", weak var " << s_var);
  CHECK(s_strong > 0.8);
  CHECK(s_strong < 1.2);
  CHECK(s_mean > 0.9);
  CHECK(s_mean < 1.1);
  CHECK(s_var > 0.9);
  CHECK(s_var < 1.1);
}
