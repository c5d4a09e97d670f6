// Training objectives against closed forms (no training): on Gaussian data
// N(0, σ_d² I) every objective's loss, evaluated for the network
// "α × the exact answer" with common random numbers, is a quadratic in α
// whose minimiser must be α = 1 — the objective is minimised by the true
// score (exact DSM, sliced score matching) or the true velocity (flow
// matching). Also: which objective `auto` picks and what is refused.
#include "runtime/training/objective.hpp"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "library_model.hpp"
#include "runtime/spectral/linear_process.hpp"
#include "test_support.hpp"

namespace {

constexpr auto kUniform = spdec::config::TimeSampling::uniform;
constexpr auto kLogUniform = spdec::config::TimeSampling::log_uniform;

using spdec::runtime::Network;
using spdec::runtime::ObjectiveKind;
using spdec::runtime::TrainingDraw;

constexpr std::int64_t kSide = 8;
constexpr double kDataStd = 0.5;

/// argmin of a quadratic f from f(0), f(1), f(2).
template <class F>
double quadratic_minimiser(F&& f) {
  const double f0 = f(0.0);
  const double f1 = f(1.0);
  const double f2 = f(2.0);
  const double a = 0.5 * (f2 - 2.0 * f1 + f0);
  const double b = f1 - f0 - a;
  return -b / (2.0 * a);
}

TrainingDraw gaussian_draw(std::int64_t n, double lo, double hi, std::uint64_t step) {
  TrainingDraw draw;
  draw.x0 = kDataStd * at::randn({n, 1, kSide, kSide}, spdec::test::f32());
  draw.times = spdec::runtime::training_times(n, lo, hi, kUniform, 7, step);
  draw.seed = 7;
  draw.step = step;
  return draw;
}

/// Per-sample factor k(t) as [N, 1, 1, 1] float.
at::Tensor per_sample(const at::Tensor& t, const std::function<double(double)>& k) {
  std::vector<double> values;
  for (std::int64_t i = 0; i < t.size(0); ++i) values.push_back(k(t[i].item<double>()));
  return at::tensor(values, spdec::test::f64()).to(at::kFloat).view({-1, 1, 1, 1});
}

/// The α minimising the objective's loss on `draw` for the network
/// x ↦ α k(t) x (the exact answer is α = 1 when k is).
double minimising_alpha(spdec::runtime::Objective& objective, const TrainingDraw& draw,
                        const std::function<double(double)>& k) {
  return quadratic_minimiser([&](double alpha) {
    const Network network = [&](const at::Tensor& x, const at::Tensor& t) {
      return alpha * x * per_sample(t, k);
    };
    return objective.loss(network, draw).item<double>();
  });
}

}  // namespace

TEST_CASE("objective: auto picks the exact objective the training plan allows", "[objective]") {
  spdec::test::torch_setup();
  auto ve = spdec::test::library_model("ve.spde", kSide);
  auto pm = spdec::test::library_model("perona_malik.spde", kSide);
  auto pm_sde = spdec::test::library_model("perona_malik_sde.spde", kSide);
  CHECK(spdec::runtime::choose_objective(std::nullopt, *ve).kind == ObjectiveKind::exact);
  CHECK(spdec::runtime::choose_objective(std::nullopt, *pm).kind == ObjectiveKind::decoupled);
  CHECK(spdec::runtime::choose_objective(std::nullopt, *pm_sde).kind == ObjectiveKind::local_dsm);
  CHECK(spdec::runtime::choose_objective(ObjectiveKind::sliced, *pm_sde).kind ==
        ObjectiveKind::sliced);
  CHECK(spdec::runtime::choose_objective(ObjectiveKind::flow_matching, *pm).kind ==
        ObjectiveKind::flow_matching);
  CHECK_THROWS_WITH(spdec::runtime::choose_objective(ObjectiveKind::exact, *pm_sde),
                    Catch::Contains("closed-form marginals") && Catch::Contains("local_dsm"));
  CHECK_THROWS_WITH(spdec::runtime::choose_objective(ObjectiveKind::decoupled, *ve),
                    Catch::Contains("semantics decoupled"));
  CHECK_THROWS_WITH(spdec::runtime::choose_objective(ObjectiveKind::local_dsm, *pm),
                    Catch::Contains("`semantics sde`") && Catch::Contains("decoupled, sliced"));
}

TEST_CASE("objective: training times are reproducible, in range and uniform", "[objective]") {
  const auto a = spdec::runtime::training_times(20000, 1e-3, 2.0, kUniform, 3, 11);
  const auto b = spdec::runtime::training_times(20000, 1e-3, 2.0, kUniform, 3, 11);
  const auto c = spdec::runtime::training_times(20000, 1e-3, 2.0, kUniform, 3, 12);
  CHECK(a == b);
  CHECK(a != c);
  double mean = 0;
  for (const double t : a) {
    REQUIRE(t >= 1e-3);
    REQUIRE(t <= 2.0);
    mean += t / static_cast<double>(a.size());
  }
  // U[lo, hi] has standard deviation (hi − lo)/√12 ≈ 0.577; the mean of
  // 20000 draws is within 5 standard errors (0.0204) of the centre.
  CHECK(std::abs(mean - 1.0005) < 5 * 0.577 / std::sqrt(20000.0));
  const auto logs = spdec::runtime::training_times(20000, 1e-3, 1.0, kLogUniform, 3, 11);
  std::int64_t below = 0;
  for (const double t : logs) below += t < std::sqrt(1e-3) ? 1 : 0;
  // Log-uniform: half the draws below the geometric mean (binomial, 5σ = 354).
  CHECK(std::abs(static_cast<double>(below) - 10000.0) < 5 * std::sqrt(5000.0));
  CHECK_THROWS_WITH(spdec::runtime::training_times(4, 0.0, 1.0, kLogUniform, 0, 0),
                    Catch::Contains("t0 > 0"));
}

// VE: X_t = x₀ + √v_t ε, so with x₀ ~ N(0, σ_d² I) the posterior mean of ε is
// ε̂* = √v_t x / (σ_d² + v_t) and the true score −x / (σ_d² + v_t).
//
// Tolerance: α* = B/A, a ratio of two sample means over N·64 pixel terms
// (N = 512): its relative standard error is below √(3 / 32768) ≈ 1 %, so
// 5 % is five standard errors.
TEST_CASE("objective: exact DSM on VE is minimised by the true noise posterior mean",
          "[objective]") {
  spdec::test::torch_setup();
  auto model = spdec::test::library_model("ve.spde", kSide);
  const auto* linear = model->linear();
  REQUIRE(linear != nullptr);
  const auto objective = spdec::runtime::make_objective(ObjectiveKind::exact, *model);
  const TrainingDraw draw = gaussian_draw(512, objective->min_time(), objective->max_time(), 1);
  const auto variance = [&](double t) { return linear->variance(t).mean().item<double>(); };
  const double alpha = minimising_alpha(*objective, draw, [&](double t) {
    return std::sqrt(variance(t)) / (kDataStd * kDataStd + variance(t));
  });
  INFO("alpha* = " << alpha);
  CHECK(std::abs(alpha - 1.0) < 0.05);
}

// Sliced score matching: J(α) = α E[λ vᵀ∇(vᵀ s)] + ½ α² E[λ ‖s‖²] for the
// network α × (the true ε̂*). Rademacher v make the first term exact (the
// Jacobian is diagonal); the second is a mean of N·64 squares (relative
// standard error √(2/32768) < 1 %): 5 % is over five standard errors.
TEST_CASE("objective: sliced score matching on VE is minimised by the true score", "[objective]") {
  spdec::test::torch_setup();
  auto model = spdec::test::library_model("ve.spde", kSide);
  const auto* linear = model->linear();
  for (const auto projections :
       {spdec::config::Projections::rademacher, spdec::config::Projections::gaussian}) {
    spdec::runtime::ObjectiveOptions options;
    options.projections = projections;
    const auto objective = spdec::runtime::make_objective(ObjectiveKind::sliced, *model, options);
    const TrainingDraw draw = gaussian_draw(512, objective->min_time(), objective->max_time(), 2);
    const auto variance = [&](double t) { return linear->variance(t).mean().item<double>(); };
    const double alpha = minimising_alpha(*objective, draw, [&](double t) {
      return std::sqrt(variance(t)) / (kDataStd * kDataStd + variance(t));
    });
    INFO(spdec::config::name(projections) << ": alpha* = " << alpha);
    // Gaussian projections add the variance of vᵀ diag(J) v (relative 1/√(32·... )):
    // still well within 5 % at this size.
    CHECK(std::abs(alpha - 1.0) < 0.05);
  }
}

// Flow matching: x_t = (1 − t) x₀ + t z; E[z − x₀ | x_t] = x_t (t − (1 − t) σ_d²)
// / ((1 − t)² σ_d² + t²). Same argument and tolerance as the exact objective.
TEST_CASE("objective: flow matching is minimised by the true conditional velocity", "[objective]") {
  spdec::test::torch_setup();
  auto model = spdec::test::library_model("ve.spde", kSide);
  const auto objective = spdec::runtime::make_objective(ObjectiveKind::flow_matching, *model);
  CHECK(objective->min_time() == 0.0);
  CHECK(objective->max_time() == 1.0);
  const TrainingDraw draw = gaussian_draw(512, 0.0, 1.0, 3);
  const double d2 = kDataStd * kDataStd;
  const double alpha = minimising_alpha(*objective, draw, [&](double s) {
    return (s - (1 - s) * d2) / ((1 - s) * (1 - s) * d2 + s * s);
  });
  INFO("alpha* = " << alpha);
  CHECK(std::abs(alpha - 1.0) < 0.05);
}

TEST_CASE("objective: local DSM's loss is finite and keyed by (seed, step)", "[objective]") {
  spdec::test::torch_setup();
  auto model = spdec::test::library_model("perona_malik_sde.spde", kSide);
  const auto objective = spdec::runtime::make_objective(ObjectiveKind::local_dsm, *model);
  const TrainingDraw draw = gaussian_draw(4, 0.05, 0.2, 4);
  const Network zero = [](const at::Tensor& x, const at::Tensor&) { return at::zeros_like(x); };
  const double first = objective->loss(zero, draw).item<double>();
  const double again = objective->loss(zero, draw).item<double>();
  CHECK(std::isfinite(first));
  CHECK(first > 0.0);
  CHECK(first == again);
}
