// Priors at T (runtime/spectral/prior.hpp, docs/design.md §5): gaussian_fit recovers a known
// diagonal Gaussian, files round-trip and corrupt ones are named, closed_form
// matches the exact marginals, and the survival share tells VP (x₀ forgotten)
// from heat (the image mean kept).
//
// Monte-Carlo tolerances: with n samples, a mean estimate has std √(v/n) and
// a variance estimate std ≤ v√(2/(n−1)) (χ² with n−1 degrees of freedom; FFT
// modes that are not self-conjugate have half that). Every check allows 5
// standard deviations: over the ≤ 100 modes checked per case the chance of a
// false failure is < 1e-4, and a wrong factor (2, a missing square root, a
// wrong basis) is many standard deviations off.
#include "runtime/spectral/prior.hpp"

#include <ATen/ATen.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <numbers>
#include <string>

#include "runtime/base/data_error.hpp"
#include "runtime/spectral/linear_process.hpp"
#include "runtime/spectral/spectral_basis.hpp"
#include "test_support.hpp"

namespace {

using spdec::runtime::BasisKind;
using spdec::runtime::GaussianPrior;
using spdec::runtime::LinearProcess;
using spdec::runtime::SpectralBasis;
using spdec::test::f64;

std::shared_ptr<const spdec::lang::Process> library(const std::string& file) {
  return std::make_shared<const spdec::lang::Process>(
      spdec::test::check_library_file("library/" + file));
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("spdec-prior-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

/// A symmetric per-mode variance in [0.5, 2.5] (a function of κ, so v[k] =
/// v[−k] for the FFT), different per channel.
at::Tensor known_variance(const SpectralBasis& basis, std::int64_t channels) {
  const at::Tensor kappa = basis.eigenvalues();
  const at::Tensor v = 0.5 + 2.0 * kappa / kappa.max();
  return at::stack({v, 2.5 - v + 0.5}).narrow(0, 0, channels).contiguous();
}

/// Empirical per-mode variance of samples about a known mean.
at::Tensor empirical_variance(const SpectralBasis& basis, const at::Tensor& x,
                              const at::Tensor& mean) {
  const at::Tensor c = basis.transform(x - mean.unsqueeze(0));
  const at::Tensor sq = c.is_complex() ? at::abs(c).square() : c.square();
  return sq.mean(0);
}

}  // namespace

TEST_CASE("prior: gaussian_fit recovers a known diagonal Gaussian", "[runtime][prior]") {
  spdec::test::torch_setup();
  const std::int64_t n = 4000;
  for (const auto& basis :
       {SpectralBasis(BasisKind::dct, 4, 5), SpectralBasis(BasisKind::fft, 4, 6)}) {
    INFO("basis " << spdec::runtime::name(basis.kind()));
    const std::int64_t channels = 2;
    const at::Tensor mean = at::randn({channels, basis.height(), basis.width()}, f64());
    const at::Tensor variance = known_variance(basis, channels);
    const at::Tensor xi = at::randn({n, channels, basis.height(), basis.width()}, f64());
    const at::Tensor x = mean.unsqueeze(0) + basis.multiply(xi, variance.sqrt());

    const GaussianPrior fit = spdec::runtime::gaussian_fit(x.to(at::kFloat), basis);
    REQUIRE(fit.channels() == channels);
    // Pixel variance = diag(Φ diag(v) Φᵀ) ≤ max v, so the mean's error per
    // pixel has std ≤ √(max v / n).
    const auto max_v = variance.max().item<double>();
    CHECK(spdec::test::max_abs_diff(fit.mean(), mean) < 5 * std::sqrt(max_v / n));
    // Per mode: |v̂ − v| ≤ 5 v √(2/(n−1)) (float32 input adds ~1e-7, negligible).
    const auto rel = ((fit.variance() - variance).abs() / variance).max().item<double>();
    CHECK(rel < 5 * std::sqrt(2.0 / (n - 1)));

    // Sampling the fit reproduces it: the samples' per-mode variance about
    // the fitted mean is within the same Monte-Carlo error of the fit.
    const at::Tensor s = fit.sample(n, 7);
    CHECK(s.sizes() == x.sizes());
    const auto rel_s =
        ((empirical_variance(basis, s, fit.mean()) - fit.variance()).abs() / fit.variance())
            .max()
            .item<double>();
    CHECK(rel_s < 5 * std::sqrt(2.0 / n));
    // Seeded: the same seed gives the same batch, another seed another one.
    CHECK(spdec::test::max_abs_diff(fit.sample(3, 11), fit.sample(3, 11)) == 0.0);
    CHECK(spdec::test::max_abs_diff(fit.sample(3, 11), fit.sample(3, 12)) > 0.1);

    // log_prob at the mean is −½ Σ log 2πv (c = 0).
    const auto at_mean = fit.log_prob(fit.mean().unsqueeze(0)).item<double>();
    const auto expected =
        -0.5 * at::log(2 * std::numbers::pi * fit.variance()).sum().item<double>();
    CHECK(at_mean == Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("prior: gaussian_fit refuses too few samples and wrong shapes", "[runtime][prior]") {
  spdec::test::torch_setup();
  const SpectralBasis basis(BasisKind::dct, 4, 4);
  CHECK_THROWS_AS(spdec::runtime::gaussian_fit(at::zeros({1, 1, 4, 4}), basis),
                  std::invalid_argument);
  CHECK_THROWS_AS(spdec::runtime::gaussian_fit(at::zeros({3, 1, 4, 5}), basis),
                  std::invalid_argument);
  CHECK_THROWS_AS(GaussianPrior(basis, at::zeros({1, 4, 4}), -at::ones({1, 4, 4})),
                  std::invalid_argument);
}

TEST_CASE("prior: save and load round trip, corrupt files named", "[runtime][prior]") {
  spdec::test::torch_setup();
  const auto dir = temp_dir("files");
  const SpectralBasis basis(BasisKind::fft, 3, 4);
  const GaussianPrior prior(basis, at::randn({2, 3, 4}, f64()), at::rand({2, 3, 4}, f64()) + 0.1);
  const auto file = dir / "prior.bin";
  prior.save(file);
  const GaussianPrior loaded = GaussianPrior::load(file);
  CHECK(loaded.basis().kind() == BasisKind::fft);
  CHECK(loaded.basis().height() == 3);
  CHECK(loaded.basis().width() == 4);
  CHECK(spdec::test::max_abs_diff(loaded.mean(), prior.mean()) == 0.0);
  CHECK(spdec::test::max_abs_diff(loaded.variance(), prior.variance()) == 0.0);

  auto expect_error = [&](const std::filesystem::path& bad, const std::string& problem) {
    INFO(bad.string());
    try {
      (void)GaussianPrior::load(bad);
      FAIL("no error for " << bad);
    } catch (const spdec::runtime::DataError& error) {
      const std::string what = error.what();
      CHECK(what.find(bad.string()) != std::string::npos);
      CHECK(what.find(problem) != std::string::npos);
    }
  };
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto write = [&](const std::string& name, const std::string& content) {
    auto path = dir / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  };
  expect_error(dir / "missing.bin", "cannot open");
  expect_error(write("truncated.bin", bytes.substr(0, bytes.size() - 5)), "truncated");
  expect_error(write("magic.bin", "NOTAPRIOR" + bytes.substr(10)), "bad header");
  expect_error(write("empty.bin", ""), "no header");
  std::string basis_bad = bytes;
  basis_bad.replace(basis_bad.find("fft"), 3, "xyz");
  expect_error(write("basis.bin", basis_bad), "unknown basis");
  std::string negative = bytes;  // last double (a variance) → −1
  const double minus_one = -1.0;
  std::memcpy(negative.data() + negative.size() - sizeof(double), &minus_one, sizeof(double));
  expect_error(write("negative.bin", negative), "variance");
  std::filesystem::remove_all(dir);
}

TEST_CASE("prior: closed_form for VE has variance sigma(T)^2 - sigma(0)^2", "[runtime][prior]") {
  spdec::test::torch_setup();
  const LinearProcess ve(library("ve.spde"), 4, 4);
  const double T = ve.end_time();
  const double smin = 0.01;
  const double smax = 50;
  const double sigma = smin * std::pow(smax / smin, T);
  const double v = sigma * sigma - smin * smin;

  const at::Tensor data_mean = at::randn({1, 4, 4}, f64());
  const GaussianPrior prior = spdec::runtime::closed_form(ve, T, 1, data_mean);
  // The same numbers as the exact marginal (it is a copy), and the closed form
  // to the quadrature's accuracy (1e-11, linear_process_test.cpp).
  CHECK(spdec::test::max_abs_diff(prior.variance()[0], ve.variance(T)) == 0.0);
  CHECK(((prior.variance() - v).abs() / v).max().item<double>() < 1e-11);
  // VE keeps the mean: m_T = 1.
  CHECK(spdec::test::max_abs_diff(prior.mean(), data_mean) < 1e-12);
  // Without data: a zero mean.
  CHECK(spdec::test::max_abs_diff(spdec::runtime::closed_form(ve, T, 1).mean(),
                                  at::zeros({1, 4, 4}, f64())) == 0.0);

  // Sampling: per-mode variance about the mean within 5 v √(2/n).
  const std::int64_t n = 4096;
  const at::Tensor s = prior.sample(n, 3);
  const auto rel =
      ((empirical_variance(ve.basis(), s, prior.mean()) - v).abs() / v).max().item<double>();
  CHECK(rel < 5 * std::sqrt(2.0 / n));
}

TEST_CASE("prior: survival share at T, VP forgets x0 and heat keeps its mean", "[runtime][prior]") {
  spdec::test::torch_setup();
  const LinearProcess vp(library("vp.spde"), 8, 8);
  const LinearProcess heat(library("heat.spde"), 8, 8);
  // Data variance all in the constant mode (images differing only in their
  // mean brightness, variance 1), and white data (variance 1 on every mode).
  at::Tensor mean_only = at::zeros({8, 8}, f64());
  mean_only[0][0] = 1.0;
  const at::Tensor white = at::ones({8, 8}, f64());

  // VP: m_T = exp(−½∫β) ≈ e^{−5.025} on every mode, v_T ≈ 1, so the share is
  // ≈ m_T² ≈ 4e-5 (mean only) and ≈ m_T² (white).
  const double vp_mean = spdec::runtime::survival_share(vp, vp.end_time(), mean_only);
  const double vp_white = spdec::runtime::survival_share(vp, vp.end_time(), white);
  CHECK(vp_mean < 1e-3);
  CHECK(vp_white < 1e-3);
  // At t₀ ≈ 0 nothing is forgotten yet.
  CHECK(spdec::runtime::survival_share(vp, 1e-5, white) > 0.99);

  // Heat: the constant mode has κ = 0, so m_T = 1 there, while every other
  // mode is damped by e^{−κA(T)} ≤ e^{−0.152·26.2} ≈ 0.019; the noise adds
  // Σ_k v_k(T) ≈ 0.14 in all (α₂ ≤ 0.5). So the mean-only share is
  // 1/(1 + Σ v) ≈ 0.88 and the white share about the same (X_T is the image
  // mean plus small noise): x₀'s mean is what X_T is made of.
  const at::Tensor m = heat.mean_factor(heat.end_time());
  const auto v_sum = heat.variance(heat.end_time()).sum().item<double>();
  const auto m2_sum = m.square().sum().item<double>();
  const double heat_mean = spdec::runtime::survival_share(heat, heat.end_time(), mean_only);
  const double heat_white = spdec::runtime::survival_share(heat, heat.end_time(), white);
  CHECK(heat_mean == Approx(1.0 / (1.0 + v_sum)).epsilon(1e-12));
  CHECK(heat_white == Approx(m2_sum / (m2_sum + v_sum)).epsilon(1e-12));
  CHECK(heat_mean > 0.5);
  CHECK(heat_white > 0.5);
  CHECK(m2_sum < 1.01);  // only the constant mode survives
  // Per-channel data variance counts the noise once per channel.
  CHECK(spdec::runtime::survival_share(heat, heat.end_time(), at::stack({mean_only, mean_only})) ==
        Approx(heat_mean).epsilon(1e-12));
}
