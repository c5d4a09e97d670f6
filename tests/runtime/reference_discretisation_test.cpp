// The reference evaluator (runtime/kernels/reference_kernels.cpp) against oracles of
// the discretisation that do not depend on the generated code nor on the
// evaluator's own code: exactness of the stencils on quadratic polynomials,
// the eigen-relation of the five-point Laplacian with the DCT / Fourier /
// DST bases, the ghost rules of LANGUAGE.md §12 written out by index, and the
// coupled-channel conductance of §15 computed by hand.
//
// Tolerances. float64 runs check the algebra: values ≤ ~130 and ≤ ~30
// operations round to ~1e-13, so 1e-10 absolute leaves a wide margin (and
// the ghost-rule checks, mere copies and a few additions, are exact or
// 1e-12). float32 runs check that the kernels' precision holds: a stencil
// Σ wₖ u[pₖ] with Σ|wₖ| = S on values |u| ≤ M moves by ≤ S·M·2⁻²⁴ when its
// inputs are rounded to float, and each of its few additions rounds a
// partial sum bounded by S·M by at most half that; 4·S·M·2⁻²⁴ bounds the
// total (the errors measured are 5 to 20 times smaller).
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include "reference_support.hpp"
#include "runtime/kernels/reference_kernels.hpp"

namespace {

using spdec::test::f32;
using spdec::test::f64;
using spdec::test::Ghost;
using spdec::test::max_abs;
using spdec::test::max_abs_diff;
using spdec::test::reference_from;

constexpr double kFloatEps = 5.9604644775390625e-08;  // 2⁻²⁴

/// u = a x² + b xy + c y² + d x + e y + f and its exact derivatives.
struct Quadratic {
  double a = 0.5, b = 0.3, c = -0.4, d = 2.0, e = -1.0, f = 3.0;
  [[nodiscard]] at::Tensor u(const at::Tensor& x, const at::Tensor& y) const {
    return a * x * x + b * x * y + c * y * y + d * x + e * y + f;
  }
  [[nodiscard]] at::Tensor ux(const at::Tensor& x, const at::Tensor& y) const {
    return 2 * a * x + b * y + d;
  }
  [[nodiscard]] at::Tensor uy(const at::Tensor& x, const at::Tensor& y) const {
    return b * x + 2 * c * y + e;
  }
  [[nodiscard]] double lap() const { return 2 * a + 2 * c; }
};

/// The interior pixels [1, H − 1) × [1, W − 1) of a [N, C, H, W] tensor.
at::Tensor interior(const at::Tensor& t) {
  return t.narrow(-2, 1, t.size(-2) - 2).narrow(-1, 1, t.size(-1) - 2);
}

}  // namespace

TEST_CASE("reference: stencils are exact on quadratic polynomials at interior pixels") {
  spdec::test::torch_setup();
  const std::int64_t h = 9;
  const std::int64_t w = 11;
  const at::Tensor x = spdec::test::grid_x(h, w);
  const at::Tensor y = spdec::test::grid_y(h, w);
  const Quadratic q;
  const at::Tensor u = q.u(x, y);
  const at::Tensor ux = q.ux(x, y);
  const at::Tensor uy = q.uy(x, y);
  const double big = max_abs(u);
  REQUIRE(big < 130);

  // k = 1 + 0.05 x + 0.03 y, linear: the face values of every scheme are exact.
  const double k0 = 1.0;
  const double kx = 0.05;
  const double ky = 0.03;
  const at::Tensor k = k0 + kx * x + ky * y;
  const std::string k_text = "(1 + 0.05 * x + 0.03 * y)";
  // Along x, u[i±1] − u[i] = ±u_x + a exactly (likewise along y with c), so
  //   Σ_d k₊ (u[i+e_d] − u[i]) − k₋ (u[i] − u[i−e_d]) = Σ_d (k₊ − k₋) ∂_d u + (k₊ + k₋) a_d
  // with a_x = a, a_y = c (so Σ_d 2k a_d = k lap u when k₊ + k₋ = 2k).
  // paper: k± = k(i ± e_d) = k ± k_d, so (k₊ − k₋) = 2 k_d: twice the
  // continuous k_d ∂_d u (the scheme is first-order consistent only);
  // face_mean and face_gradient: k± = k ± k_d / 2: exactly div(k ∇u).
  const at::Tensor paper = 2 * (kx * ux + ky * uy) + k * q.lap();
  const at::Tensor exact_flux = kx * ux + ky * uy + k * q.lap();
  const at::Tensor lap = at::full_like(u, q.lap());

  struct Case {
    std::string statements;
    at::Tensor expected;
    double weights;  ///< S = Σ|wₖ| of the stencil (for the float32 bound)
  };
  const std::vector<Case> cases{
      {"drift = lap(u)", lap, 8},
      {"drift = div(grad(u))", lap, 8},
      {"drift = div(grad(u))\ngradient central", lap, 8},
      {"drift = dx(u)\ngradient central", ux, 1},
      {"drift = dy(u)\ngradient central", uy, 1},
      {"drift = dx(u)", 2 * ux, 2},
      {"drift = dy(u)\ngradient difference", 2 * uy, 2},
      {"drift = div(" + k_text + " * grad(u))", paper, 16},
      {"drift = div(grad(u) * " + k_text + ")\nscheme paper", paper, 16},
      {"drift = div(" + k_text + " * grad(u))\ngradient central", paper, 16},
      {"drift = div(" + k_text + " * grad(u) / 2)", 0.5 * paper, 8},
      {"drift = div(" + k_text + " * grad(u))\nscheme face_mean", exact_flux, 16},
      {"drift = div(" + k_text + " * grad(u))\nscheme face_gradient", exact_flux, 16},
      {"drift = div(" + k_text + " * grad(u))\nscheme face_gradient\ngradient central", exact_flux,
       16},
      // Not of the form k * grad(e): the normalised central difference.
      {"drift = div(vec(u, 2 * u))", ux + 2 * uy, 3},
      // Sobel: the 1-2-1 weighted sum of three central differences, 8 ∇u.
      {"drift = dot(sobel(u), vec(1, 0))", 8 * ux, 8},
      {"drift = dot(sobel(u), vec(0, 1))", 8 * uy, 8},
  };
  for (const Case& c : cases) {
    INFO(c.statements);
    const auto r = reference_from(c.statements + "\nboundary neumann");
    const at::Tensor got64 = r.kernels->drift(u, {}, 0.5);
    REQUIRE(got64.scalar_type() == at::kDouble);
    CHECK(max_abs_diff(interior(got64), interior(c.expected)) < 1e-10);
    const at::Tensor got32 = r.kernels->drift(u.to(at::kFloat), {}, 0.5);
    REQUIRE(got32.scalar_type() == at::kFloat);
    const double bound = 4 * c.weights * big * kFloatEps;
    CHECK(max_abs_diff(interior(got32), interior(c.expected)) < bound);
  }
}

TEST_CASE("reference: the five-point Laplacian has the DCT and Fourier and DST eigenbases") {
  spdec::test::torch_setup();
  const std::int64_t h = 6;
  const std::int64_t w = 8;
  const double pi = std::numbers::pi;
  const at::Tensor x = spdec::test::grid_x(h, w);
  const at::Tensor y = spdec::test::grid_y(h, w);

  // Unit-norm basis images (built in double, evaluated in float) and their κ.
  struct Basis {
    std::vector<at::Tensor> images;
    std::vector<double> kappas;
    void add(const at::Tensor& image, double kappa) {
      const double norm = image.norm().item<double>();
      if (norm < 1e-9) return;  // a sine mode that vanishes on the grid
      images.push_back(image / norm);
      kappas.push_back(kappa);
    }
  };
  const auto s2 = [](double angle) { return 4 * std::sin(angle) * std::sin(angle); };
  Basis dct;
  Basis fourier;
  Basis dst;
  for (std::int64_t p = 0; p < w; ++p) {
    for (std::int64_t q = 0; q < h; ++q) {
      const auto pd = static_cast<double>(p);
      const auto qd = static_cast<double>(q);
      const auto wd = static_cast<double>(w);
      const auto hd = static_cast<double>(h);
      // DCT-II: half-sample symmetric, the eigenvectors of the clamped ghost rule.
      dct.add(at::cos(pi * pd * (x + 0.5) / wd) * at::cos(pi * qd * (y + 0.5) / hd),
              s2(pi * pd / (2 * wd)) + s2(pi * qd / (2 * hd)));
      const at::Tensor phase = 2 * pi * (pd * x / wd + qd * y / hd);
      const double kappa = s2(pi * pd / wd) + s2(pi * qd / hd);
      fourier.add(at::cos(phase), kappa);
      fourier.add(at::sin(phase), kappa);
      // DST-I on (W + 1, H + 1): zero at the ghost nodes −1 and W, the
      // eigenvectors of the Dirichlet rule with v = 0.
      dst.add(
          at::sin(pi * (pd + 1) * (x + 1) / (wd + 1)) * at::sin(pi * (qd + 1) * (y + 1) / (hd + 1)),
          s2(pi * (pd + 1) / (2 * (wd + 1))) + s2(pi * (qd + 1) / (2 * (hd + 1))));
    }
  }
  REQUIRE(dct.images.size() == static_cast<std::size_t>(w * h));
  // cos and sin of every (p, q): each real mode twice, (p, q) and (−p, −q).
  REQUIRE(fourier.images.size() >= static_cast<std::size_t>(w * h));
  REQUIRE(dst.images.size() == static_cast<std::size_t>(w * h));

  const auto check = [&](const Basis& basis, const std::string& boundary) {
    const at::Tensor images = at::cat(basis.images, 0).to(at::kFloat);  // [W·H, 1, H, W]
    const at::Tensor kappas = at::tensor(basis.kappas, f64()).view({-1, 1, 1, 1}).to(at::kFloat);
    for (const char* drift : {"lap(u)", "div(grad(u))"}) {
      INFO(boundary << ", drift = " << drift);
      const auto r = reference_from(std::string("drift = ") + drift + "\n" + boundary);
      const at::Tensor got = r.kernels->drift(images, {}, 0.5);
      // Entries ≤ 1, eigenvalues ≤ 8: float rounding ~1e-6 at most.
      CHECK(max_abs_diff(got, -kappas * images) < 1e-5);
    }
  };
  check(dct, "boundary neumann");
  check(fourier, "boundary periodic");
  check(dst, "boundary dirichlet 0");
}

TEST_CASE("reference: ghost rules of shifts and coordinates and nested stencils") {
  spdec::test::torch_setup();
  const std::int64_t h = 5;
  const std::int64_t w = 7;
  const double v = 0.25;
  const at::Tensor u = at::rand({2, 3, h, w}, f64());
  for (const Ghost ghost : {Ghost::neumann, Ghost::periodic, Ghost::dirichlet}) {
    INFO(spdec::test::name(ghost));
    const std::string boundary = spdec::test::boundary_statement(ghost, v);
    const auto drift = [&](const std::string& e, const at::Tensor& state) {
      return reference_from("drift = " + e + "\n" + boundary).kernels->drift(state, {}, 0.5);
    };

    // LANGUAGE.md §12: shift(u, -3, 0) at column 1 reads u[0], u[W−2], v.
    const at::Tensor s = drift("shift(u, -3, 0)", u);
    const at::Tensor column1 = s.select(3, 1);
    switch (ghost) {
      case Ghost::neumann:
        CHECK(max_abs_diff(column1, u.select(3, 0)) == 0);
        break;
      case Ghost::periodic:
        CHECK(max_abs_diff(column1, u.select(3, w - 2)) == 0);
        break;
      case Ghost::dirichlet:
        CHECK(max_abs_diff(column1, at::full_like(column1, v)) == 0);
        break;
    }
    CHECK(max_abs_diff(s, spdec::test::shifted(u, -3, 0, ghost, v)) == 0);
    // Offsets in both directions, and past the whole grid (|d| ≤ 8).
    CHECK(max_abs_diff(drift("shift(u, 2, -1)", u), spdec::test::shifted(u, 2, -1, ghost, v)) == 0);
    CHECK(max_abs_diff(drift("shift(u, -8, 8)", u), spdec::test::shifted(u, -8, 8, ghost, v)) == 0);
    // Coordinates are fields too: their ghosts follow the same rule.
    const at::Tensor gx = spdec::test::grid_x(h, w);
    const at::Tensor gy = spdec::test::grid_y(h, w);
    CHECK(max_abs_diff(drift("shift(x, -1, 0) + 10 * shift(y, 0, 1)", u),
                       spdec::test::shifted(gx, -1, 0, ghost, v) +
                           10 * spdec::test::shifted(gy, 0, 1, ghost, v)) == 0);

    // Nested stencils: the inner expression is computed on the grid and
    // extended by the ghost rule (under Dirichlet its ghost is v, whatever it is).
    CHECK(max_abs_diff(drift("lap(lap(u))", u),
                       spdec::test::laplacian(spdec::test::laplacian(u, ghost, v), ghost, v)) <
          1e-12);
    CHECK(max_abs_diff(drift("lap(u^2)", u), spdec::test::laplacian(u * u, ghost, v)) < 1e-12);
    const at::Tensor dy_u =
        spdec::test::shifted(u, 0, 1, ghost, v) - spdec::test::shifted(u, 0, -1, ghost, v);
    CHECK(max_abs_diff(drift("dx(dy(u))", u), spdec::test::shifted(dy_u, 1, 0, ghost, v) -
                                                  spdec::test::shifted(dy_u, -1, 0, ghost, v)) <
          1e-12);
  }

  // grad(u) at column 0 under Neumann is (u[1] − u[0], ...) (§12).
  const at::Tensor dx = reference_from("drift = dx(u)").kernels->drift(u, {}, 0.5);
  CHECK(max_abs_diff(dx.select(3, 0), u.select(3, 1) - u.select(3, 0)) == 0);

  // lap(lap(u)) at a border pixel by hand, on the 3 × 3 grid (rows y):
  //   u = [[0, 1, 4], [2, 3, 7], [5, 8, 6]].
  // Neumann: L(x, y) = Σ u[clamped neighbours] − 4 u, so L(1, 0) = 4 + 0 + 3 + 1 − 4 = 4,
  //   L(2, 0) = 4 + 1 + 7 + 4 − 16 = 0, L(2, 1) = 7 + 3 + 6 + 4 − 28 = −8 and
  //   lap(lap(u))(2, 0) = L(2, 0) + L(1, 0) + L(2, 1) + L(2, 0) − 4 L(2, 0) = −4.
  // Dirichlet 1: L(0, 0) = 1 + 1 + 2 + 1 − 0 = 5, L(1, 0) = 4 + 0 + 3 + 1 − 4 = 4,
  //   L(0, 1) = 3 + 1 + 5 + 0 − 8 = 1 and, the ghost of L being 1 (not L of
  //   the ghosts), lap(lap(u))(0, 0) = 4 + 1 + 1 + 1 − 20 = −13.
  const at::Tensor small =
      at::tensor(std::vector<double>{0, 1, 4, 2, 3, 7, 5, 8, 6}, f64()).view({1, 1, 3, 3});
  const at::Tensor neumann =
      reference_from("drift = lap(lap(u))\nboundary neumann").kernels->drift(small, {}, 0.5);
  CHECK(neumann[0][0][0][2].item<double>() == -4.0);
  const at::Tensor dirichlet =
      reference_from("drift = lap(lap(u))\nboundary dirichlet 1").kernels->drift(small, {}, 0.5);
  CHECK(dirichlet[0][0][0][0].item<double>() == -13.0);
}

TEST_CASE("reference: coupled channels sum the conductance's gradient norm over channels") {
  spdec::test::torch_setup();
  const std::int64_t h = 6;
  const std::int64_t w = 7;
  const at::Tensor u = at::rand({2, 3, h, w}, f64());
  const std::string drift = "drift = div(1 / (1 + norm2(grad(u))) * grad(u))\n";
  const auto coupled = reference_from(drift + "channels coupled");
  const auto independent = reference_from(drift + "channels independent");

  // By hand (§13.2, §13.4 scheme paper, §15): the node gradient (difference
  // form) of channel c at node o is computed from the ghost-ruled values
  // around o, k(o) = 1 / (1 + Σ_c |∇u_c(o)|²), and the flux at pixel i is
  // Σ_d k(i + e_d)(u[i + e_d] − u[i]) − k(i − e_d)(u[i] − u[i − e_d]).
  const auto S = [&](std::int64_t di, std::int64_t dj) {
    return spdec::test::shifted(u, di, dj, Ghost::neumann);
  };
  const auto k_at = [&](std::int64_t ox, std::int64_t oy, bool sum_channels) {
    const at::Tensor gx = S(ox + 1, oy) - S(ox - 1, oy);
    const at::Tensor gy = S(ox, oy + 1) - S(ox, oy - 1);
    at::Tensor n2 = gx * gx + gy * gy;
    if (sum_channels) n2 = n2.sum(1, /*keepdim=*/true);
    return 1.0 / (1.0 + n2);
  };
  const auto by_hand = [&](bool sum_channels) {
    return k_at(1, 0, sum_channels) * (S(1, 0) - u) - k_at(-1, 0, sum_channels) * (u - S(-1, 0)) +
           k_at(0, 1, sum_channels) * (S(0, 1) - u) - k_at(0, -1, sum_channels) * (u - S(0, -1));
  };
  const at::Tensor expected_coupled = by_hand(true);
  const at::Tensor expected_independent = by_hand(false);
  CHECK(max_abs_diff(coupled.kernels->drift(u, {}, 0.5), expected_coupled) < 1e-12);
  CHECK(max_abs_diff(independent.kernels->drift(u, {}, 0.5), expected_independent) < 1e-12);
  // The coupling matters on this state.
  CHECK(max_abs_diff(expected_coupled, expected_independent) > 1e-3);
  // float32: values ≤ ~4 (k ≤ 1, |u| ≤ 1), a few dozen operations: 1e-5.
  CHECK(max_abs_diff(coupled.kernels->drift(u.to(at::kFloat), {}, 0.5), expected_coupled) < 1e-5);

  // One channel of a coupled process is the independent process.
  const at::Tensor one = u.narrow(1, 0, 1).contiguous();
  CHECK(max_abs_diff(coupled.kernels->drift(one, {}, 0.5),
                     independent.kernels->drift(one, {}, 0.5)) == 0);
}
