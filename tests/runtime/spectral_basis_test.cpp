// The orthonormal spectral bases (runtime/spectral/spectral_basis.hpp): the DCT-II
// matrices against their formula, orthonormality (round trip, Parseval), and
// that κ is the exact eigenvalue of the five-point Laplacian with the
// boundary's ghost values, in the layout the transforms use.
//
// Tolerances. Double-precision checks are set a few orders above the
// rounding they can accumulate (sums of ≤ 64·64 terms of size ≤ 1: ~1e-13).
// Float checks: one transform is two matrix products with sums of ≤ 64
// terms, each rounding ~6e-8 relative, so a round trip of unit-variance data
// is off by ~1e-6; 1e-5 leaves a margin of ten.
#include "runtime/spectral/spectral_basis.hpp"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <stdexcept>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace {

using spdec::runtime::BasisKind;
using spdec::runtime::SpectralBasis;
using spdec::test::f32;
using spdec::test::f64;
using spdec::test::max_abs_diff;

}  // namespace

TEST_CASE("dct_matrix equals the DCT-II formula evaluated in long double") {
  spdec::test::torch_setup();
  for (const std::int64_t n : {1, 2, 3, 8, 28, 64}) {
    const at::Tensor d = spdec::runtime::dct_matrix(n);
    REQUIRE(d.scalar_type() == at::kDouble);
    REQUIRE(d.sizes() == at::IntArrayRef({n, n}));
    const auto a = d.accessor<double, 2>();
    double worst = 0;
    for (std::int64_t k = 0; k < n; ++k) {
      for (std::int64_t m = 0; m < n; ++m) {
        const long double pi = std::numbers::pi_v<long double>;
        const long double nn = static_cast<long double>(n);
        const long double s = std::sqrt((k == 0 ? 1.0L : 2.0L) / nn);
        const long double expected =
            s * std::cos(pi * static_cast<long double>(k) *
                         (2.0L * static_cast<long double>(m) + 1.0L) / (2.0L * nn));
        worst = std::max(worst, static_cast<double>(std::fabs(a[k][m] - expected)));
      }
    }
    INFO("n = " << n);
    CHECK(worst < 1e-14);  // each entry is one cos: a few ulp
    // Orthonormal: D Dᵀ = Dᵀ D = I.
    CHECK(max_abs_diff(at::matmul(d, d.t()), at::eye(n, f64())) < 1e-13);
    CHECK(max_abs_diff(at::matmul(d.t(), d), at::eye(n, f64())) < 1e-13);
    // The float matrix is the double one rounded (half an ulp of values ≤ 1).
    CHECK(max_abs_diff(spdec::runtime::dct_matrix(n, at::kFloat), d) < 6e-8);
  }
}

TEST_CASE("dct_matrix is cached per size, dtype and device") {
  spdec::test::torch_setup();
  const at::Tensor a = spdec::runtime::dct_matrix(16, at::kFloat);
  const at::Tensor b = spdec::runtime::dct_matrix(16, at::kFloat);
  const at::Tensor c = spdec::runtime::dct_matrix(16, at::kDouble);
  CHECK(a.data_ptr() == b.data_ptr());
  CHECK(a.data_ptr() != c.data_ptr());
  CHECK_FALSE(a.requires_grad());
  CHECK_THROWS_AS(spdec::runtime::dct_matrix(0), std::invalid_argument);
}

TEST_CASE("transforms are orthonormal: round trip and Parseval in float") {
  spdec::test::torch_setup();
  const std::vector<std::pair<std::int64_t, std::int64_t>> sizes = {
      {28, 28}, {32, 17}, {1, 5}, {64, 64}};
  for (const BasisKind kind : {BasisKind::dct, BasisKind::fft}) {
    for (const auto& [h, w] : sizes) {
      INFO(spdec::runtime::name(kind) << " " << h << "x" << w);
      const SpectralBasis basis(kind, h, w);
      const at::Tensor x = at::randn({3, 2, h, w}, f32());
      const at::Tensor c = basis.transform(x);
      REQUIRE(c.sizes() == x.sizes());
      CHECK(at::isComplexType(c.scalar_type()) == (kind == BasisKind::fft));
      const at::Tensor back = basis.inverse(c);
      REQUIRE(back.scalar_type() == at::kFloat);
      CHECK(max_abs_diff(back, x) < 1e-5);
      // Parseval per image: Σ|c|² = Σ x², relative to the norm (sums of ≤ 4096
      // squares in float: ~1e-6 relative).
      const at::Tensor ex = (x * x).sum({-2, -1}).to(at::kDouble);
      const at::Tensor ec = at::abs(c).pow(2).sum({-2, -1}).to(at::kDouble);
      CHECK(((ec - ex).abs() / ex).max().item<double>() < 1e-5);
    }
  }
}

TEST_CASE("the transforms act on the last two dimensions only, batched") {
  spdec::test::torch_setup();
  for (const BasisKind kind : {BasisKind::dct, BasisKind::fft}) {
    const SpectralBasis basis(kind, 6, 5);
    const at::Tensor x = at::randn({4, 3, 6, 5}, f64());
    const at::Tensor m = at::rand({6, 5}, f64());
    const at::Tensor batched = basis.multiply(x, m);
    for (std::int64_t n = 0; n < 4; ++n) {
      for (std::int64_t ch = 0; ch < 3; ++ch) {
        const at::Tensor one = basis.multiply(x[n][ch], m);
        CHECK(max_abs_diff(batched[n][ch], one) < 1e-13);
      }
    }
    // Per-sample values [N, 1, H, W] broadcast over channels.
    const at::Tensor per_sample = at::rand({4, 1, 6, 5}, f64());
    const at::Tensor y = basis.multiply(x, per_sample);
    CHECK(max_abs_diff(y[2][1], basis.multiply(x[2][1], per_sample[2][0])) < 1e-13);
  }
}

TEST_CASE("laplacian_eigenvalues follow the formulas of LANGUAGE.md section 11") {
  spdec::test::torch_setup();
  const std::int64_t h = 6;
  const std::int64_t w = 9;
  const at::Tensor dct = spdec::runtime::laplacian_eigenvalues(BasisKind::dct, h, w);
  const at::Tensor fft = spdec::runtime::laplacian_eigenvalues(BasisKind::fft, h, w);
  REQUIRE(dct.sizes() == at::IntArrayRef({h, w}));
  const auto d = dct.accessor<double, 2>();
  const auto f = fft.accessor<double, 2>();
  const double pi = std::numbers::pi;
  for (std::int64_t j = 0; j < h; ++j) {
    for (std::int64_t i = 0; i < w; ++i) {
      const double di = static_cast<double>(i);
      const double dj = static_cast<double>(j);
      const auto s2 = [](double v) { return 4.0 * std::sin(v) * std::sin(v); };
      CHECK(d[j][i] == Approx(s2(pi * di / (2.0 * w)) + s2(pi * dj / (2.0 * h))).margin(1e-15));
      CHECK(f[j][i] == Approx(s2(pi * di / w) + s2(pi * dj / h)).margin(1e-15));
    }
  }
  CHECK(d[0][0] == 0.0);
  CHECK(f[0][0] == 0.0);
  CHECK(dct.min().item<double>() >= 0.0);
  CHECK(dct.max().item<double>() <= 8.0);
  CHECK(fft.max().item<double>() <= 8.0);
}

TEST_CASE("mode wavevectors: DCT pi i / W, FFT 2 pi i / W wrapped to -pi < w <= pi") {
  spdec::test::torch_setup();
  const double pi = std::numbers::pi;
  const auto dct = spdec::runtime::mode_wavevectors(BasisKind::dct, 4, 8);
  CHECK(dct.x[3][5].item<double>() == Approx(pi * 5.0 / 8.0));
  CHECK(dct.y[3][5].item<double>() == Approx(pi * 3.0 / 4.0));
  const auto fft = spdec::runtime::mode_wavevectors(BasisKind::fft, 5, 8);
  CHECK(fft.x[0][3].item<double>() == Approx(2.0 * pi * 3.0 / 8.0));
  CHECK(fft.x[0][4].item<double>() == Approx(pi));  // Nyquist: +π, not −π
  CHECK(fft.x[0][5].item<double>() == Approx(-2.0 * pi * 3.0 / 8.0));
  CHECK(fft.y[3][0].item<double>() == Approx(-2.0 * pi * 2.0 / 5.0));  // odd H: no Nyquist
  CHECK(fft.x.max().item<double>() <= pi);
  CHECK(fft.x.min().item<double>() > -pi);
}

TEST_CASE("every DCT basis image is an eigenvector of the Neumann five-point Laplacian") {
  spdec::test::torch_setup();
  // All modes of a non-square grid: the basis image of mode (i, j) is the
  // inverse transform of a unit coefficient; −Δ (clamped ghost values) must
  // give κ[j, i] times it. Double: the check is exact up to ~1e-14.
  const std::int64_t h = 7;
  const std::int64_t w = 10;
  const SpectralBasis basis(BasisKind::dct, h, w);
  const at::Tensor units = at::eye(h * w, f64()).reshape({h * w, h, w});
  const at::Tensor images = basis.inverse(units);
  const at::Tensor kappa = basis.eigenvalues().reshape({h * w, 1, 1});
  const at::Tensor lap = spdec::test::five_point_laplacian(images, /*periodic=*/false);
  CHECK(max_abs_diff(lap, -kappa * images) < 1e-12);
  // The same in float, as the runtime uses it.
  const at::Tensor images32 = basis.inverse(units.to(at::kFloat));
  const at::Tensor lap32 = spdec::test::five_point_laplacian(images32, false);
  CHECK(max_abs_diff(lap32, -kappa * images32) < 1e-5);
}

TEST_CASE("real cos and sin modes are eigenvectors of the periodic five-point Laplacian") {
  spdec::test::torch_setup();
  // cos/sin(2π (i x / W + j y / H)) span the real FFT mode (i, j); −Δ with
  // wrap-around ghosts gives κ_fft[j, i] times each, and the FFT of each lives
  // on the modes (i, j) and (−i, −j) only, so κ's layout matches fft2's.
  const std::int64_t h = 6;
  const std::int64_t w = 8;
  const SpectralBasis basis(BasisKind::fft, h, w);
  const at::Tensor kappa = basis.eigenvalues();
  const at::Tensor xs = at::arange(w, f64()).reshape({1, w});
  const at::Tensor ys = at::arange(h, f64()).reshape({h, 1});
  for (std::int64_t j = 0; j < h; ++j) {
    for (std::int64_t i = 0; i < w; ++i) {
      const at::Tensor phase = 2.0 * std::numbers::pi *
                               (static_cast<double>(i) * xs / static_cast<double>(w) +
                                static_cast<double>(j) * ys / static_cast<double>(h));
      const double k = kappa[j][i].item<double>();
      for (const at::Tensor& mode : {at::cos(phase), at::sin(phase)}) {
        INFO("mode (" << i << ", " << j << ")");
        CHECK(max_abs_diff(spdec::test::five_point_laplacian(mode, true), -k * mode) < 1e-12);
        at::Tensor support = at::abs(basis.transform(mode));
        support[j][i] = 0;
        support[(h - j) % h][(w - i) % w] = 0;
        CHECK(support.max().item<double>() < 1e-12);
      }
    }
  }
}

TEST_CASE("Phi diag(kappa) Phi^T is minus the five-point Laplacian of the boundary") {
  spdec::test::torch_setup();
  // The whole operator at once, on random images: the spectral multiply by κ
  // must equal −Δ with clamped (DCT) or wrapped (FFT) ghosts.
  for (const BasisKind kind : {BasisKind::dct, BasisKind::fft}) {
    INFO(spdec::runtime::name(kind));
    const SpectralBasis basis(kind, 9, 12);
    const at::Tensor u = at::randn({2, 3, 9, 12}, f64());
    const at::Tensor lap = spdec::test::five_point_laplacian(u, kind == BasisKind::fft);
    CHECK(max_abs_diff(basis.multiply(u, basis.eigenvalues()), -lap) < 1e-12);
  }
}

TEST_CASE("bases name their boundary and reject bad shapes") {
  spdec::test::torch_setup();
  using spdec::lang::BoundaryKind;
  CHECK(spdec::runtime::basis_for(BoundaryKind::neumann) == BasisKind::dct);
  CHECK(spdec::runtime::basis_for(BoundaryKind::dirichlet) == BasisKind::dct);
  CHECK(spdec::runtime::basis_for(BoundaryKind::periodic) == BasisKind::fft);
  const SpectralBasis basis(BasisKind::dct, 4, 5);
  CHECK_THROWS_AS(basis.transform(at::zeros({4, 4}, f32())), std::invalid_argument);
  CHECK_THROWS_AS(basis.transform(at::zeros({5}, f32())), std::invalid_argument);
  CHECK_THROWS_AS(basis.transform(at::zeros({4, 5}, at::TensorOptions().dtype(at::kLong))),
                  std::invalid_argument);
  CHECK_THROWS_AS(basis.multiply(at::zeros({4, 5}, f32()), at::ones({5, 4}, f32())),
                  std::invalid_argument);
  CHECK_THROWS_AS(SpectralBasis(BasisKind::fft, 0, 3), std::invalid_argument);
}
