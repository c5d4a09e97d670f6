// The noise covariance operator (runtime/spectral/noise_operator.hpp) against
// specs/LANGUAGE.md §11: white noise is the identity; ℓ > 0 is the exponential
// kernel's spectrum normalised to unit mean diagonal; a filter F gives
// q = F² per mode, evaluated by lang's host evaluator (time and learnable
// schedules included); powers compose; zeros follow the pseudo-inverse;
// samples have covariance Q; gradients flow.
//
// Tolerances are argued next to each check. Algebraic identities are checked
// in double (rounding ~1e-15 per operation, sums of ≤ 4096 terms: ~1e-13;
// inverse powers multiply that by the condition number of Q, bounded below).
#include "runtime/spectral/noise_operator.hpp"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "lang/evaluate.hpp"
#include "runtime/spectral/spectral_basis.hpp"
#include "test_support.hpp"

namespace {

using spdec::lang::BoundaryKind;
using spdec::runtime::BasisKind;
using spdec::runtime::KnotValues;
using spdec::runtime::NoiseOperator;
using spdec::runtime::QPower;
using spdec::test::f32;
using spdec::test::f64;
using spdec::test::max_abs_diff;

/// A checked process with the given noise statement (empty: none) and boundary.
spdec::lang::Process noise_process(const std::string& noise,
                                   const std::string& boundary = "neumann") {
  std::string text = "process p\ndrift = 0\ndiffusion = 1\n";
  if (!noise.empty()) text += "noise " + noise + "\n";
  text += "boundary " + boundary + "\ntime T = 1, dt = 0.01\n";
  return spdec::test::check_process(text);
}

/// The operators every algebraic test runs over.
struct Case {
  std::string name;
  NoiseOperator op;
};

std::vector<Case> spectral_cases(std::int64_t h, std::int64_t w) {
  std::vector<Case> cases;
  cases.push_back({"neumann l=3", NoiseOperator::correlated(BoundaryKind::neumann, 3.0, h, w)});
  cases.push_back({"periodic l=3", NoiseOperator::correlated(BoundaryKind::periodic, 3.0, h, w)});
  cases.push_back(
      {"dirichlet l=1.5", {noise_process("correlation_length = 1.5", "dirichlet 0"), h, w}});
  cases.push_back(
      {"neumann filter (1+kappa)^-1", {noise_process("filter(kappa) = (1 + kappa)^(-1)"), h, w}});
  cases.push_back({"periodic filter (1+kappa)^-1",
                   {noise_process("filter(kappa) = (1 + kappa)^(-1)", "periodic"), h, w}});
  return cases;
}

/// The dense Q (double) of an operator on a small grid, from its columns.
at::Tensor dense_q(const NoiseOperator& op, QPower power = QPower::one, double t = 0) {
  return spdec::test::dense_matrix(op.height(), op.width(), [&](const at::Tensor& basis) {
    return op.apply_power(basis, power, t);
  });
}

}  // namespace

TEST_CASE("white noise is the identity and applies no transform") {
  spdec::test::torch_setup();
  for (const char* boundary : {"neumann", "periodic"}) {
    const NoiseOperator op(noise_process("", boundary), 12, 10);
    CHECK(op.kind() == NoiseOperator::Kind::white);
    CHECK(op.is_identity());
    CHECK_FALSE(op.time_dependent());
    const at::Tensor x = at::randn({2, 3, 12, 10}, f32());
    // The input itself comes back for every power: no transform, no copy.
    for (const QPower p : {QPower::one, QPower::half, QPower::minus_half, QPower::minus_one}) {
      CHECK(op.apply_power(x, p, 0.5).is_same(x));
    }
    CHECK(at::equal(op.eigenvalues(), at::ones({12, 10}, f64())));
    CHECK(at::equal(op.diagonal(), at::ones({12, 10}, f64())));
  }
  // correlation_length = 0 written out is white too.
  CHECK(NoiseOperator(noise_process("correlation_length = 0"), 4, 4).is_identity());
  CHECK(NoiseOperator::correlated(BoundaryKind::neumann, 0.0, 4, 4).is_identity());
}

TEST_CASE("correlation length: q is the exponential kernel's spectrum with mean 1") {
  spdec::test::torch_setup();
  const double ell = 2.5;
  for (const BoundaryKind boundary : {BoundaryKind::neumann, BoundaryKind::periodic}) {
    const NoiseOperator op = NoiseOperator::correlated(boundary, ell, 16, 20);
    CHECK(op.kind() == NoiseOperator::Kind::correlation_length);
    CHECK_FALSE(op.is_identity());
    const at::Tensor q = op.eigenvalues();
    const auto w = spdec::runtime::mode_wavevectors(spdec::runtime::basis_for(boundary), 16, 20);
    const at::Tensor shape = at::pow(1.0 + ell * ell * (w.x * w.x + w.y * w.y), -1.5);
    // q / q[0, 0] is the unnormalised spectrum (q[0,0] = c): ~1e-15 relative.
    CHECK(max_abs_diff(q / q[0][0], shape) < 1e-13);
    CHECK(q.mean().item<double>() == Approx(1.0).epsilon(1e-13));
    CHECK(max_abs_diff(op.sqrt_eigenvalues() * op.sqrt_eigenvalues(), q) < 1e-13);
  }
  CHECK_THROWS_AS(NoiseOperator::correlated(BoundaryKind::neumann, -1.0, 4, 4),
                  std::invalid_argument);
  CHECK_THROWS_AS(NoiseOperator::correlated(BoundaryKind::neumann, NAN, 4, 4),
                  std::invalid_argument);
}

TEST_CASE("powers compose: Q^1/2 Q^1/2 = Q, Q Q^-1 = I, Q^-1/2 Q^1/2 = I") {
  spdec::test::torch_setup();
  for (const Case& c : spectral_cases(28, 24)) {
    INFO(c.name);
    const NoiseOperator& op = c.op;
    // Float, as training uses it: each power is two transforms and a
    // multiply, ~1e-6 relative to max |Q x|; tolerance 1e-5 of it.
    const at::Tensor x32 = at::randn({4, 3, 28, 24}, f32());
    const at::Tensor qx32 = op.apply(x32);
    REQUIRE(qx32.scalar_type() == at::kFloat);
    REQUIRE(qx32.sizes() == x32.sizes());
    const double scale32 = qx32.abs().max().item<double>();
    CHECK(max_abs_diff(op.apply_sqrt(op.apply_sqrt(x32)), qx32) < 1e-5 * scale32);
    // Double for the inverses: cond(Q) = max q / min q is ≤ (1 + 9·2π²)^1.5
    // ≈ 2.4e3 for ℓ = 3 and (1 + 8)² = 81 for the filter, so ~1e-12 suffices.
    const at::Tensor x = at::randn({4, 3, 28, 24}, f64());
    const at::Tensor qx = op.apply(x);
    CHECK(max_abs_diff(op.apply_sqrt(op.apply_sqrt(x)), qx) < 1e-12);
    CHECK(max_abs_diff(op.apply(op.apply_inverse(x)), x) < 1e-11);
    CHECK(max_abs_diff(op.apply_inverse(qx), x) < 1e-11);
    CHECK(max_abs_diff(op.apply_inverse_sqrt(op.apply_sqrt(x)), x) < 1e-11);
    CHECK(max_abs_diff(op.apply_inverse_sqrt(op.apply_inverse_sqrt(qx)), x) < 1e-11);
  }
}

TEST_CASE("Q is symmetric positive definite with eigenvalues q") {
  spdec::test::torch_setup();
  for (const Case& c : spectral_cases(8, 8)) {
    INFO(c.name);
    const at::Tensor q = dense_q(c.op);
    CHECK(max_abs_diff(q, q.t()) < 1e-13);
    // The spectrum of the dense 64 × 64 matrix is q (eigvalsh: backward stable,
    // error ~1e-15 · ‖Q‖).
    const at::Tensor eig = std::get<0>(at::sort(at::linalg_eigvalsh(q)));
    const at::Tensor expected = std::get<0>(at::sort(c.op.eigenvalues().flatten()));
    CHECK(max_abs_diff(eig, expected) < 1e-12);
    CHECK(eig.min().item<double>() > 0);
    // Q^{1/2} is the symmetric square root.
    const at::Tensor s = dense_q(c.op, QPower::half);
    CHECK(max_abs_diff(s, s.t()) < 1e-13);
    CHECK(max_abs_diff(at::matmul(s, s), q) < 1e-12);
  }
}

TEST_CASE("correlation length: trace Q = H W, and the diagonal is 1 under periodic") {
  spdec::test::torch_setup();
  // diag(Q) read off the columns Q e_p of all 64 unit images of an 8×8 grid
  // (in double: ~1e-15 per entry) against diagonal() (closed form).
  for (const double ell : {0.5, 2.0, 7.0}) {
    for (const BoundaryKind boundary : {BoundaryKind::neumann, BoundaryKind::periodic}) {
      INFO("l = " << ell << ", " << spdec::lang::name(boundary));
      const NoiseOperator op = NoiseOperator::correlated(boundary, ell, 8, 8);
      const at::Tensor diag = dense_q(op).diagonal().reshape({8, 8});
      CHECK(diag.sum().item<double>() == Approx(64.0).epsilon(1e-12));
      CHECK(max_abs_diff(op.diagonal(), diag) < 1e-13);
      if (boundary == BoundaryKind::periodic) {
        CHECK(max_abs_diff(diag, at::ones({8, 8}, f64())) < 1e-13);
      } else {
        // Near a Neumann border the DCT basis moves the diagonal off 1
        // (reflected noise correlates with itself): documented, not a bug.
        CHECK(max_abs_diff(diag, at::ones({8, 8}, f64())) > 1e-3);
      }
    }
  }
  // In float, as the runtime applies it: each column carries ~1e-7 relative
  // error, the trace of 64 entries ~1e-6 absolute; 1e-5 as required.
  const NoiseOperator op = NoiseOperator::correlated(BoundaryKind::neumann, 2.0, 8, 8);
  const at::Tensor units = at::eye(64, f32()).reshape({64, 1, 8, 8});
  const at::Tensor trace = op.apply(units).reshape({64, 64}).diagonal().sum();
  CHECK(std::abs(trace.item<double>() - 64.0) < 1e-5 * 64.0);
}

TEST_CASE("correlation length: Q is close to the exponential kernel exp(-r / l)") {
  spdec::test::torch_setup();
  // LANGUAGE.md §11: pixels are correlated above 0.8, 0.5, 0.1 within about
  // 0.22ℓ, 0.69ℓ, 2.3ℓ. On a large periodic grid the discrete Q's correlation
  // at distance r along an axis must be near exp(−r/ℓ); it is not equal (the
  // spectrum is cut off at |ω| = π and sampled on the grid; normalising the
  // truncated spectrum to unit variance lifts every correlation by ~4% for
  // ℓ = 8), so the tolerance is 6% relative — far below the 47% between
  // exp(−r/ℓ) at r and at r + ℓ/2.
  const double ell = 8.0;
  const std::int64_t n = 128;
  const NoiseOperator op = NoiseOperator::correlated(BoundaryKind::periodic, ell, n, n);
  at::Tensor e = at::zeros({1, 1, n, n}, f64());
  e[0][0][0][0] = 1.0;
  const at::Tensor column = op.apply(e)[0][0];
  for (const std::int64_t r : {2, 6, 18, 30}) {
    const double expected = std::exp(-static_cast<double>(r) / ell);
    INFO("r = " << r);
    CHECK(column[0][r].item<double>() == Approx(expected).epsilon(0.06));
    CHECK(column[r][0].item<double>() == Approx(expected).epsilon(0.06));
  }
}

TEST_CASE("samples Q^1/2 xi have covariance Q") {
  spdec::test::torch_setup(7);
  // n white samples ξ on an 8×8 grid; the sample covariance C of y = Q^{1/2}ξ
  // (mean known to be 0) has entries with standard deviation
  // sqrt((Q_aa Q_bb + Q_ab²) / n) ≈ sqrt((1 + ρ²)/n) for Gaussian y. Each of
  // the 4096 entries must lie within 5.5 of those (P(|Z| > 5.5) ≈ 4e-8 per
  // entry; the seed is fixed, so the test is deterministic anyway).
  const std::int64_t n = 20000;
  for (const BoundaryKind boundary : {BoundaryKind::neumann, BoundaryKind::periodic}) {
    INFO(spdec::lang::name(boundary));
    const NoiseOperator op = NoiseOperator::correlated(boundary, 2.0, 8, 8);
    const at::Tensor xi = at::randn({n, 1, 8, 8}, f64());
    const at::Tensor y = op.apply_sqrt(xi).reshape({n, 64});
    const at::Tensor cov = at::matmul(y.t(), y) / static_cast<double>(n);
    const at::Tensor q = dense_q(op);
    const at::Tensor d = q.diagonal();
    const at::Tensor sd = at::sqrt((at::outer(d, d) + q * q) / static_cast<double>(n));
    const double worst = ((cov - q).abs() / sd).max().item<double>();
    CHECK(worst < 5.5);
    // and the test has power: white noise's covariance (I) is far off.
    CHECK(((at::eye(64, f64()) - q).abs() / sd).max().item<double>() > 50);
  }
}

TEST_CASE("filter (1 + kappa)^(-1) gives eigenvalues (1 + kappa)^-2") {
  spdec::test::torch_setup();
  for (const char* boundary : {"neumann", "periodic", "dirichlet 0.5"}) {
    INFO(boundary);
    const NoiseOperator op(noise_process("filter(kappa) = (1 + kappa)^(-1)", boundary), 10, 14);
    CHECK(op.kind() == NoiseOperator::Kind::filter);
    CHECK_FALSE(op.time_dependent());
    const at::Tensor kappa = op.basis().eigenvalues();
    // The host evaluator computes pow(1 + κ, −1) and we square it; the oracle
    // is 1 / (1 + κ)²: a few ulp apart.
    const at::Tensor expected = 1.0 / ((1.0 + kappa) * (1.0 + kappa));
    CHECK(max_abs_diff(op.eigenvalues() / expected, at::ones_like(expected)) < 1e-15 * 8);
    // apply is exactly the spectral multiply by those values.
    const at::Tensor x = at::randn({2, 1, 10, 14}, f64());
    CHECK(max_abs_diff(op.apply(x), op.basis().multiply(x, expected)) < 1e-13);
  }
}

TEST_CASE("a filter with zeros: inverse powers are the pseudo-inverse") {
  spdec::test::torch_setup();
  // F = 0 on the constant mode (κ = 0), 1 elsewhere: Q = I − P₀ (P₀ the
  // projection on constants, the same mode in both bases), so Q⁻¹ = Q⁺ = Q
  // and Q Q⁻¹ x = x − mean(x), not x.
  for (const char* boundary : {"neumann", "periodic"}) {
    INFO(boundary);
    const NoiseOperator op(noise_process("filter(kappa) = select(kappa > 0, 1, 0)", boundary), 6,
                           7);
    const at::Tensor x = at::randn({3, 2, 6, 7}, f64());
    const at::Tensor centred = x - x.mean({-2, -1}, /*keepdim=*/true);
    for (const QPower p : {QPower::one, QPower::half, QPower::minus_half, QPower::minus_one}) {
      const at::Tensor y = op.apply_power(x, p);
      CHECK(at::isfinite(y).all().item<bool>());
      CHECK(max_abs_diff(y, centred) < 1e-13);
    }
    CHECK(max_abs_diff(op.apply(op.apply_inverse(x)), centred) < 1e-13);
    const at::Tensor constant = at::full({1, 1, 6, 7}, 3.0, f64());
    CHECK(op.apply_inverse(constant).abs().max().item<double>() < 1e-13);
  }
  // Explicit values with zeros: finite values and finite (zero) gradients there.
  const NoiseOperator op = NoiseOperator::correlated(BoundaryKind::neumann, 1.0, 4, 4);
  at::Tensor v = at::rand({4, 4}, f64()) + 0.5;
  v[1][2] = 0.0;
  v.requires_grad_(true);
  const at::Tensor x = at::randn({2, 1, 4, 4}, f64());
  const at::Tensor y = op.apply_with(x, QPower::minus_one, v);
  y.sum().backward();
  CHECK(at::isfinite(y).all().item<bool>());
  CHECK(at::isfinite(v.grad()).all().item<bool>());
  CHECK(v.grad()[1][2].item<double>() == 0.0);
}

TEST_CASE("two_subspace.spde: sqrt g(t) on the 13 low modes of a 32x32 grid") {
  spdec::test::torch_setup();
  const spdec::lang::Process process = spdec::test::check_library_file("library/two_subspace.spde");
  const NoiseOperator op(process, 32, 32);
  REQUIRE(op.kind() == NoiseOperator::Kind::filter);
  CHECK(op.time_dependent());
  REQUIRE(process.learnables.size() == 2);
  const spdec::lang::Learnable& g = process.learnables[0];
  const spdec::lang::Learnable& h = process.learnables[1];
  REQUIRE(g.name == "g");
  REQUIRE(h.name == "h");
  // The low subspace: κ ≤ kappa_cut, by the file's comment exactly the 13
  // modes with i² + j² ≤ 12.
  const double cut = process.find_param("kappa_cut")->value;
  const at::Tensor low = op.basis().eigenvalues() <= cut;
  CHECK(low.sum().item<std::int64_t>() == 13);
  for (std::int64_t j = 0; j < 32; ++j) {
    for (std::int64_t i = 0; i < 32; ++i) {
      CHECK(low[j][i].item<bool>() == (i * i + j * j <= 12));
    }
  }
  // Knot values: g four times its init, h its init, so the subspaces differ.
  KnotValues knots = {g.init_values, h.init_values};
  for (double& v : knots[0]) v *= 4.0;
  for (const double t : {1e-5, 0.1234, 0.5, 1.0}) {
    INFO("t = " << t);
    const double gt = spdec::lang::interpolate_log_linear(g.knot_times, g.init_values, t);
    const double ht = spdec::lang::interpolate_log_linear(h.knot_times, h.init_values, t);
    // Init values: both rates equal, √g(t) everywhere (~1 ulp: exp/log/sqrt).
    const at::Tensor s0 = op.sqrt_eigenvalues(t);
    CHECK(max_abs_diff(s0.masked_select(low), at::full({13}, std::sqrt(gt), f64())) <
          1e-14 * std::sqrt(gt));
    // With the table: √(4 g(t)) = 2√g(t) on the low modes, √h(t) elsewhere.
    const at::Tensor s = op.sqrt_eigenvalues(t, &knots);
    const at::Tensor expected = at::where(low, at::full({32, 32}, 2.0 * std::sqrt(gt), f64()),
                                          at::full({32, 32}, std::sqrt(ht), f64()));
    CHECK(max_abs_diff(s / expected, at::ones_like(s)) < 1e-13);
    CHECK(at::equal(op.eigenvalues(t, &knots), s * s));
  }
  // apply at t uses q(t): compare with the explicit spectral multiply.
  const at::Tensor x = at::randn({2, 1, 32, 32}, f64());
  const double t = 0.3;
  CHECK(max_abs_diff(op.apply(x, t), op.basis().multiply(x, op.eigenvalues(t))) <
        1e-12 * op.eigenvalues(t).max().item<double>());
  CHECK(max_abs_diff(op.apply_with(x, QPower::one, op.sqrt_eigenvalues(t)), op.apply(x, t)) <
        1e-12 * op.eigenvalues(t).max().item<double>());
  // ... and with the knot table.
  const at::Tensor qk = op.eigenvalues(t, &knots);
  CHECK(max_abs_diff(op.apply_power(x, QPower::one, t, &knots), op.basis().multiply(x, qk)) <
        1e-12 * qk.max().item<double>());
  // Per-sample times: row n is sqrt_eigenvalues(times[n]).
  const std::vector<double> times = {0.1, 0.7, 0.4};
  const at::Tensor rows = op.sqrt_eigenvalues(times, &knots);
  REQUIRE(rows.sizes() == at::IntArrayRef({3, 1, 32, 32}));
  for (std::size_t n = 0; n < times.size(); ++n) {
    CHECK(at::equal(rows[static_cast<std::int64_t>(n)][0], op.sqrt_eigenvalues(times[n], &knots)));
  }
  // A wrong knot table is refused.
  KnotValues bad = {g.init_values};
  CHECK_THROWS_AS(op.sqrt_eigenvalues(0.5, &bad), std::invalid_argument);
}

TEST_CASE("the diagonal of a filter operator matches its dense matrix") {
  spdec::test::torch_setup();
  for (const char* boundary : {"neumann", "periodic"}) {
    INFO(boundary);
    const NoiseOperator op(noise_process("filter(kappa) = exp(-kappa)", boundary), 7, 9);
    CHECK(max_abs_diff(op.diagonal(), dense_q(op).diagonal().reshape({7, 9})) < 1e-13);
  }
}

TEST_CASE("gradients flow through apply: finite differences in double") {
  spdec::test::torch_setup();
  // L(x) = Σ w ⊙ Q^p x is linear, so central differences have no truncation
  // error, only rounding: ~1e-16 · |terms of L| / h. Q^-1 has entries up to
  // ~1e3 here (cond ≈ 2.4e3), so the terms reach ~1e4 and with h = 1e-3 the
  // error is ≲ 1e-9: tolerance 1e-8 relative to the largest gradient entry.
  const double step = 1e-3;
  for (const Case& c : spectral_cases(4, 5)) {
    for (const QPower p : {QPower::one, QPower::half, QPower::minus_one}) {
      INFO(c.name << ", power " << spdec::runtime::exponent(p));
      const at::Tensor w = at::randn({2, 1, 4, 5}, f64());
      at::Tensor x = at::randn({2, 1, 4, 5}, f64()).requires_grad_(true);
      const at::Tensor loss = (c.op.apply_power(x, p) * w).sum();
      loss.backward();
      const at::Tensor grad = x.grad();
      const at::Tensor base = x.detach().clone();
      const at::Tensor flat = base.view({-1});
      double worst = 0;
      for (std::int64_t k = 0; k < flat.numel(); ++k) {
        const double old = flat[k].item<double>();
        flat[k] = old + step;
        const double up = (c.op.apply_power(base, p) * w).sum().item<double>();
        flat[k] = old - step;
        const double down = (c.op.apply_power(base, p) * w).sum().item<double>();
        flat[k] = old;
        const double fd = (up - down) / (2 * step);
        worst = std::max(worst, std::abs(fd - grad.view({-1})[k].item<double>()));
      }
      CHECK(worst < 1e-8 * std::max(1.0, grad.abs().max().item<double>()));
    }
  }
  // And through explicit per-mode values (learned filters), at the
  // half power: L(v) = Σ w ⊙ Φ diag(|v|) Φᵀ x, linear in v > 0.
  const NoiseOperator op = NoiseOperator::correlated(BoundaryKind::periodic, 1.0, 4, 5);
  const at::Tensor x = at::randn({2, 1, 4, 5}, f64());
  const at::Tensor w = at::randn({2, 1, 4, 5}, f64());
  at::Tensor v = (at::rand({4, 5}, f64()) + 0.5).requires_grad_(true);
  (op.apply_with(x, QPower::half, v) * w).sum().backward();
  const at::Tensor base = v.detach().clone();
  double worst = 0;
  for (std::int64_t j = 0; j < 4; ++j) {
    for (std::int64_t i = 0; i < 5; ++i) {
      const double old = base[j][i].item<double>();
      base[j][i] = old + step;
      const double up = (op.apply_with(x, QPower::half, base) * w).sum().item<double>();
      base[j][i] = old - step;
      const double down = (op.apply_with(x, QPower::half, base) * w).sum().item<double>();
      base[j][i] = old;
      worst = std::max(worst, std::abs((up - down) / (2 * step) - v.grad()[j][i].item<double>()));
    }
  }
  CHECK(worst < 1e-8);
}

TEST_CASE("bad noise settings and inputs are refused") {
  spdec::test::torch_setup();
  // A filter that is infinite at κ = 0 (the constant mode).
  CHECK_THROWS_AS(NoiseOperator(noise_process("filter(kappa) = 1 / kappa"), 4, 4),
                  std::domain_error);
  // Both a filter and ℓ > 0 (the checker's E046; a hand-made Process too).
  spdec::lang::Process both = noise_process("filter(kappa) = 1");
  both.noise.correlation_length = 2;
  CHECK_THROWS_AS(NoiseOperator(both, 4, 4), std::invalid_argument);
  const NoiseOperator op = NoiseOperator::correlated(BoundaryKind::neumann, 1.0, 4, 6);
  CHECK_THROWS_AS(op.apply(at::zeros({1, 1, 6, 4}, f32())), std::invalid_argument);
  CHECK_THROWS_AS(NoiseOperator::white(BoundaryKind::neumann, 4, 6).apply(at::zeros({4}, f32())),
                  std::invalid_argument);
  CHECK_THROWS_AS(op.apply_with(at::zeros({1, 1, 4, 6}, f32()), QPower::one, at::ones({4, 5})),
                  std::invalid_argument);
}
