// Process models and sampler plumbing: covariance operators against dense
// matrices, time grids, per-sample noise, and perturb() against the chains
// and sums it stands for. (The samplers' distributions are proven in
// sampler_oracle_test.cpp.)
#include "runtime/process/process_model.hpp"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "analytic_score.hpp"
#include "codegen/pipeline.hpp"
#include "library_model.hpp"
#include "runtime/sampling/sampler.hpp"
#include "runtime/sampling/time_grid.hpp"
#include "runtime/spectral/covariance.hpp"
#include "runtime/spectral/linear_process.hpp"
#include "test_support.hpp"

namespace {

using spdec::runtime::Covariance;
using spdec::runtime::SpectralBasis;

using spdec::test::library_model;

/// The matrix of a linear operator on [1, 1, h, w] images (columns = images of unit vectors).
template <class Op>
at::Tensor matrix_of(std::int64_t h, std::int64_t w, Op&& op) {
  return spdec::test::dense_matrix(h, w, std::forward<Op>(op)).t();
}

at::Tensor images(std::int64_t n, std::int64_t side) {
  at::Tensor x = at::full({n, 1, side, side}, -0.7, spdec::test::f32());
  x.narrow(3, side / 3, side / 3).fill_(0.8);
  return (x + 0.05 * at::randn_like(x)).contiguous();
}

}  // namespace

TEST_CASE("covariance: L, Σ and their inverses agree as dense matrices", "[runtime][model]") {
  spdec::test::torch_setup();
  constexpr std::int64_t h = 4;
  constexpr std::int64_t w = 5;
  const SpectralBasis basis(spdec::runtime::BasisKind::dct, h, w);
  at::Tensor v = at::rand({h, w}, spdec::test::f64()) + 0.1;
  SECTION("a zero mode follows the pseudo-inverse") { v[1][2] = 0.0; }
  SECTION("all modes carry noise") {}
  const at::Tensor d = at::rand({1, 1, h, w}, spdec::test::f64()) + 0.5;
  const Covariance sigma(basis, v, d);
  const at::Tensor S = matrix_of(h, w, [&](const at::Tensor& e) { return sigma.apply(e); });
  const at::Tensor L = matrix_of(h, w, [&](const at::Tensor& e) { return sigma.apply_sqrt(e); });
  const at::Tensor Si =
      matrix_of(h, w, [&](const at::Tensor& e) { return sigma.apply_inverse(e); });
  const at::Tensor Li =
      matrix_of(h, w, [&](const at::Tensor& e) { return sigma.apply_inverse_sqrt(e); });
  const at::Tensor Lit =
      matrix_of(h, w, [&](const at::Tensor& e) { return sigma.apply_inverse_sqrt_transpose(e); });
  // Double precision throughout: every identity holds to ~1e-15 relative.
  CHECK(spdec::test::max_abs_diff(L.mm(L.t()), S) < 1e-12);
  CHECK(spdec::test::max_abs_diff(S.mm(Si).mm(S), S) < 1e-12);  // Moore–Penrose
  CHECK(spdec::test::max_abs_diff(Si.mm(S).mm(Si), Si) < 1e-10);
  CHECK(spdec::test::max_abs_diff(Li.mm(L).mm(Li), Li) < 1e-10);
  CHECK(spdec::test::max_abs_diff(Lit, Li.t()) < 1e-12);
  CHECK(spdec::test::max_abs_diff(Li.t().mm(Li), Si) < 1e-10);

  // A variance that is the same for every mode takes the identity shortcut
  // and must mean the same operator.
  const Covariance constant(basis, at::full({h, w}, 0.3, spdec::test::f64()), d);
  CHECK(constant.mode_variance().dim() == 0);
  const at::Tensor D = at::diag(d.flatten());
  CHECK(spdec::test::max_abs_diff(
            matrix_of(h, w, [&](const at::Tensor& e) { return constant.apply(e); }),
            0.3 * D.mm(D)) < 1e-14);
}

TEST_CASE("time grid: from T to exactly t0, decreasing", "[runtime][sampler]") {
  using spdec::runtime::GridKind;
  for (const auto kind : {GridKind::uniform, GridKind::power}) {
    const auto t = spdec::runtime::time_grid(2.0, 1e-3, 7, {kind, 7.0});
    REQUIRE(t.size() == 8);
    CHECK(t.front() == 2.0);
    CHECK(t.back() == 1e-3);  // assigned, not computed: exactly t0
    for (std::size_t i = 1; i < t.size(); ++i) CHECK(t[i] < t[i - 1]);
  }
  // ρ = 1 is the uniform grid.
  const auto u = spdec::runtime::time_grid(1.0, 0.1, 9);
  const auto p = spdec::runtime::time_grid(1.0, 0.1, 9, {GridKind::power, 1.0});
  for (std::size_t i = 0; i < u.size(); ++i) CHECK(p[i] == Approx(u[i]).epsilon(1e-14));
  CHECK_THROWS(spdec::runtime::time_grid(1.0, 1.0, 4));
  CHECK_THROWS(spdec::runtime::time_grid(1.0, 0.0, 0));
}

TEST_CASE("sampler: a sample does not depend on the batch it is drawn in", "[runtime][sampler]") {
  spdec::test::torch_setup();
  auto model = library_model("ve.spde", 8);
  const auto& basis = model->linear()->basis();
  spdec::test::GaussianDataScore score(*model->linear(), at::zeros({1, 8, 8}, spdec::test::f64()),
                                       at::full({8, 8}, 0.1, spdec::test::f64()));
  const spdec::runtime::GaussianPrior prior(basis, at::zeros({1, 8, 8}, spdec::test::f64()),
                                            at::full({1, 8, 8}, 2500.0, spdec::test::f64()));
  spdec::runtime::SamplerOptions options;
  options.steps = 40;
  options.corrector_steps = 1;
  options.seed = 9;
  const at::Tensor all_ids = at::arange(6, at::kLong);
  const at::Tensor some_ids = at::tensor(std::vector<std::int64_t>{4, 1}, at::kLong);
  options.sample_ids = all_ids;
  const at::Tensor all = spdec::runtime::sample(
      *model, score, spdec::runtime::draw_prior(*model, prior, 6, 9, all_ids, at::kCPU), options);
  options.sample_ids = some_ids;
  const at::Tensor some = spdec::runtime::sample(
      *model, score, spdec::runtime::draw_prior(*model, prior, 2, 9, some_ids, at::kCPU), options);
  // Same Philox draws per sample; only the rounding of batched matrix
  // products may differ with the batch's size.
  CHECK(spdec::test::max_abs_diff(some, all.index_select(0, some_ids)) < 1e-5);
  CHECK(spdec::test::max_abs_diff(all.select(0, 0), all.select(0, 1)) > 1e-2);
}

TEST_CASE("decoupled perturb: the flow, the accumulated variance, per-sample times",
          "[runtime][model]") {
  spdec::test::torch_setup();
  auto model = library_model("perona_malik.spde", 8);
  REQUIRE(model->kind() == spdec::runtime::ModelKind::decoupled);
  const double dt = model->process().time.dt;
  const at::Tensor x0 = images(3, 8);
  const std::vector<double> t = {0.5, 0.1, 0.5003};
  spdec::runtime::NoiseSource noise;
  noise.seed = 4;
  const auto p = model->perturb(x0, t, noise);
  // The flow: 500 (100) steps of flow_steps from x₀, the third one plus a
  // shortened step of 0.0003 — computed here one sample at a time.
  auto& kernels = model->kernels();
  const at::Tensor flow_a = kernels.flow_steps(x0.narrow(0, 0, 1).contiguous(), {}, 0, dt, 500);
  const at::Tensor flow_b = kernels.flow_steps(x0.narrow(0, 1, 1).contiguous(), {}, 0, dt, 100);
  const at::Tensor flow_c =
      kernels.flow_steps(kernels.flow_steps(x0.narrow(0, 2, 1).contiguous(), {}, 0, dt, 500), {},
                         500 * dt, 0.5003 - 500 * dt, 1);
  CHECK(spdec::test::max_abs_diff(p.mean, at::cat({flow_a, flow_b, flow_c})) < 1e-6);
  // Σ̄ = Σ_k Δt g(t_k)², g = alpha2 = 0.01 · 200^{t/T} (library/perona_malik.spde),
  // summed here in double; the kernels sum 500 float terms (relative 1e-5).
  auto expected = [&](double time) {
    double sum = 0;
    const auto steps = static_cast<std::int64_t>(std::floor(time / dt * (1 + 1e-12)));
    for (std::int64_t k = 0; k < steps; ++k) {
      sum += dt * std::pow(0.01 * std::pow(200.0, static_cast<double>(k) * dt / 2.0), 2);
    }
    const double rest = time - static_cast<double>(steps) * dt;
    return sum + rest * std::pow(0.01 * std::pow(200.0, static_cast<double>(steps) * dt / 2.0), 2);
  };
  REQUIRE(p.covariance.has_value());
  const at::Tensor d2 = p.covariance->pixel_scale().square().to(at::kDouble);
  for (std::size_t i = 0; i < t.size(); ++i) {
    CHECK(d2[static_cast<std::int64_t>(i)].mean().item<double>() ==
          Approx(expected(t[i])).epsilon(1e-4));
  }
  // X_t = Φ_t(x₀) + D ε (white Q).
  CHECK(spdec::test::max_abs_diff(p.xt, p.mean + p.covariance->pixel_scale() * p.eps) < 1e-6);
  // The sampler's Σ̄ at t is the same sum.
  const auto sigma = model->covariance(0.5003, x0, x0);
  CHECK(sigma.pixel_scale().square().mean().item<double>() ==
        Approx(expected(0.5003)).epsilon(1e-4));
  CHECK_THROWS_WITH(model->ancestral_step(x0, 0.5, 0.4, x0, noise), Catch::Contains("ancestral"));
}

TEST_CASE("sde perturb: the chain with its last step as a Gaussian", "[runtime][model]") {
  spdec::test::torch_setup();
  auto model = library_model("perona_malik_sde.spde", 8);
  REQUIRE(model->kind() == spdec::runtime::ModelKind::sde);
  const double dt = model->process().time.dt;
  const at::Tensor x0 = images(2, 8);
  spdec::runtime::NoiseSource noise;
  noise.seed = 5;
  noise.sample_ids = at::tensor(std::vector<std::int64_t>{7, 3}, at::kLong);
  const auto p = model->perturb(x0, std::vector<double>{10 * dt, 4 * dt}, noise);
  // The same chain by forward_step with the same Philox steps 0..k−1.
  for (std::int64_t i = 0; i < 2; ++i) {
    const std::int64_t steps = i == 0 ? 10 : 4;
    at::Tensor u = x0.narrow(0, i, 1).contiguous();
    spdec::runtime::NoiseSource draw = noise;
    draw.sample_ids = noise.sample_ids.narrow(0, i, 1);
    for (std::int64_t k = 0; k < steps; ++k) {
      draw.step = static_cast<std::uint64_t>(k);
      u = model->kernels().forward_step(u, {}, static_cast<double>(k) * dt, dt, draw);
    }
    // One tamed EM step's rounding apart (the Gaussian form adds in another order).
    CHECK(spdec::test::max_abs_diff(p.xt.narrow(0, i, 1), u) < 1e-5);
  }
  REQUIRE(p.covariance.has_value());
  // The last step's Σ = Δt g² (g = alpha2(t) at t = 9 Δt for the first sample).
  const double g = 0.01 * std::pow(200.0, 9 * dt / 2.0);
  CHECK(p.covariance->pixel_scale()[0].mean().item<double>() ==
        Approx(std::sqrt(dt) * g).epsilon(1e-5));
}
