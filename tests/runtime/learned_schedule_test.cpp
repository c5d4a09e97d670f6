// Joint training of learnable schedules: the knots' parameterisation, the
// mode map and its refusals, and the θ-gradient of the trajectory objective
// (runtime/training/learned_schedule.hpp, learnable_modes.hpp,
// schedule_objective.hpp).
#include <torch/autograd.h>
#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "lang/evaluate.hpp"
#include "runtime/training/schedule_objective.hpp"
#include "test_support.hpp"

namespace spdec::runtime {
namespace {

using test::check_library_file;
using test::check_process;
using test::f64;
using test::max_abs_diff;
using test::torch_setup;

// A small VE process of two_subspace's form: two learnable rates, g on the
// modes with κ <= 1, h on the others, on a 4 x 4 grid.
const char* const kTwoRates = R"(process tiny_two
param size = 4
schedule g(t) = learnable knots(5) init geometric(0.1, 10, t)
schedule h(t) = learnable knots(5) init geometric(0.5, 20, t)
drift = 0
diffusion = 1
noise filter(kappa) = select(kappa <= 1, sqrt(g(t)), sqrt(h(t)))
boundary neumann
time T = 1, t0 = 1e-3, dt = 1e-2
)";

/// The text with one line replaced.
std::string with_line(const std::string& from, const std::string& to) {
  std::string text = kTwoRates;
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

/// A two-component Gaussian mixture whose components are diagonal in the
/// basis: x̂ = Φᵀx ~ Σ_m ½ N(μ̂_m, diag(v_m)). Smoothed by M it stays one
/// (variances v_m + M), so the optimal flow φ = M^{1/2} ∇log p_M is analytic.
struct Mixture {
  at::Tensor means;      // [2, 1, H, W] spectral
  at::Tensor variances;  // [2, 1, H, W]

  /// φ(x) for states x [B, 1, H, W] and per-sample M [B, 1, H, W].
  [[nodiscard]] at::Tensor flow(const SpectralBasis& basis, const at::Tensor& x,
                                const at::Tensor& m) const {
    const at::Tensor c = basis.transform(x);
    std::vector<at::Tensor> logs;
    std::vector<at::Tensor> scores;
    for (int k = 0; k < 2; ++k) {
      const at::Tensor v = variances[k] + m;
      const at::Tensor r = c - means[k];
      logs.push_back(-0.5 * (r.square() / v + at::log(v)).flatten(1).sum(1));
      scores.push_back(-r / v);
    }
    const at::Tensor weights = at::softmax(at::stack(logs, 1), 1);  // [B, 2]
    const at::Tensor score = weights.select(1, 0).view({-1, 1, 1, 1}) * scores[0] +
                             weights.select(1, 1).view({-1, 1, 1, 1}) * scores[1];
    return basis.inverse(at::sqrt(m) * score);
  }
};

struct GaussianProblem {
  lang::Process process = check_process(kTwoRates);
  NoiseOperator noise{process, 4, 4};
  LearnableModes modes = learnable_modes(process, noise);
  LearnedSchedules schedules{process};
  Mixture mixture;
  ScheduleDraw draw;

  GaussianProblem() {
    torch_setup(7);
    {
      // Off the init: a generic point of the parameter space.
      const at::NoGradGuard no_grad;
      for (at::Tensor& p : schedules.parameters()) p.add_(0.3 * at::randn_like(p));
    }
    const SpectralBasis& basis = noise.basis();
    mixture.means = at::stack({at::randn({1, 4, 4}, f64()), -at::randn({1, 4, 4}, f64())});
    mixture.variances = 0.2 + at::rand({2, 1, 4, 4}, f64());
    const std::int64_t rows = 4;
    const at::Tensor component = at::tensor({0, 1, 1, 0}, at::TensorOptions().dtype(at::kLong));
    const at::Tensor z = at::randn({rows, 1, 4, 4}, f64());
    draw.x0 = basis.inverse(mixture.means.index_select(0, component) +
                            at::sqrt(mixture.variances.index_select(0, component)) * z);
    draw.noise = at::randn({rows, 1, 4, 4}, f64());
    draw.times = at::tensor({0.05, 0.3, 0.62, 0.97}, f64());
  }

  /// The optimal flow of the schedules' current M (held fixed in θ, as the
  /// network's schedule input is).
  [[nodiscard]] FlowFunction optimal_flow() const {
    return [this](const at::Tensor& x, const at::Tensor& t) {
      const at::Tensor m = mode_variances(modes, schedules, t).detach();
      return mixture.flow(noise.basis(), x, m);
    };
  }

  [[nodiscard]] ScheduleTerms terms(const std::vector<at::Tensor>& probes) {
    ScheduleDraw d = draw;
    d.probes = probes;
    return schedule_terms(modes, schedules, noise.basis(), optimal_flow(), d, 0.5);
  }

  /// The directional derivative along `direction` of the estimated gradient.
  double estimated_slope(const std::vector<at::Tensor>& probes,
                         const std::vector<at::Tensor>& direction, bool surrogate = true) {
    const ScheduleTerms t = terms(probes);
    const at::Tensor total = surrogate ? t.loss + t.surrogate : t.loss;
    const auto grads = torch::autograd::grad({total}, schedules.parameters());
    double slope = 0;
    for (std::size_t i = 0; i < grads.size(); ++i) {
      slope += (grads[i] * direction[i]).sum().item<double>();
    }
    return slope;
  }

  void shift(const std::vector<at::Tensor>& direction, double h) {
    const at::NoGradGuard no_grad;
    auto parameters = schedules.parameters();
    for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].add_(h * direction[i]);
  }

  /// (L(θ + h v) − L(θ − h v)) / 2h with the optimal flow of each θ.
  double central_difference(const std::vector<at::Tensor>& direction, double h) {
    shift(direction, h);
    const double plus = terms({}).loss.item<double>();
    shift(direction, -2 * h);
    const double minus = terms({}).loss.item<double>();
    shift(direction, h);
    return (plus - minus) / (2 * h);
  }
};

/// The pixel basis as Hutchinson directions: each sample's unit vectors, so
/// the trace is exact.
std::vector<at::Tensor> basis_probes(const at::Tensor& like) {
  std::vector<at::Tensor> out;
  for (std::int64_t i = 0; i < like[0].numel(); ++i) {
    at::Tensor e = at::zeros_like(like).flatten(1);
    e.select(1, i).fill_(1.0);
    out.push_back(e.view_as(like));
  }
  return out;
}

}  // namespace

TEST_CASE("the θ-gradient estimator equals a central difference of the loss on a Gaussian mixture",
          "[knots]") {
  GaussianProblem problem;
  std::vector<at::Tensor> direction;
  for (const at::Tensor& p : problem.schedules.parameters()) direction.push_back(at::randn_like(p));
  // With the optimal flow and an orthonormal basis of directions, the
  // estimator is exact, so only the finite difference errs: its truncation is
  // h²/6 |L'''| ≈ 2e-9 |L'''| at h = 1e-4 (the parameters are O(1) and L is
  // analytic in them), its rounding ε_64 |L| / h ≈ 1e-12 |L|. 1e-6 of the
  // slope leaves a margin of about a hundred over both.
  const double h = 1e-4;
  const double reference = problem.central_difference(direction, h);
  const double estimated = problem.estimated_slope(basis_probes(problem.draw.x0), direction);
  INFO("finite difference " << reference << ", estimator " << estimated);
  CHECK(std::abs(estimated - reference) <= 1e-6 * std::abs(reference));
  // The difference at h / 2 agrees to its truncation (a quarter of h's).
  CHECK(std::abs(problem.central_difference(direction, h / 2) - reference) <=
        1e-6 * std::abs(reference));

  // Each estimated term matters here: without the trace (the Hessian-vector
  // products), or without the surrogate at all, the slope is off by far more.
  const double no_trace = problem.estimated_slope({}, direction);
  const double no_surrogate = problem.estimated_slope({}, direction, false);
  INFO("without the trace " << no_trace << ", without the surrogate " << no_surrogate);
  CHECK(std::abs(no_trace - reference) > 1e-3 * std::abs(reference));
  CHECK(std::abs(no_surrogate - reference) > 1e-3 * std::abs(reference));

  // Random directions on the sphere: unbiased, so their mean over many
  // draws approaches the exact slope (a loose check of the scaling d / P).
  const std::vector<at::Tensor> random = sphere_probes(problem.draw.x0, 2048, 11);
  const double hutchinson = problem.estimated_slope(random, direction);
  INFO("2048 sphere directions " << hutchinson);
  CHECK(std::abs(hutchinson - reference) <
        0.25 * std::abs(reference - no_trace) + 1e-6 * std::abs(reference));
}

TEST_CASE("the surrogate's value is zero and the loss is the weighted flow error", "[knots]") {
  GaussianProblem problem;
  const ScheduleTerms terms = problem.terms(sphere_probes(problem.draw.x0, 2, 3));
  CHECK(terms.surrogate.item<double>() == 0.0);
  CHECK(std::isfinite(terms.loss.item<double>()));
  CHECK(terms.loss.item<double>() > 0.0);
}

TEST_CASE("learned knots reproduce the init and integrate to the variance", "[knots]") {
  const lang::Process process = check_process(kTwoRates);
  const LearnedSchedules schedules(process);
  const KnotValues values = schedules.values();
  REQUIRE(values.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t k = 0; k < values[i].size(); ++k) {
      CHECK(values[i][k] == Approx(process.learnables[i].init_values[k]).epsilon(1e-12));
    }
  }
  // M(t) against the trapezoid rule on the interpolated rate (2e5 panels:
  // error ~ Δt² |q''| / 12, below 1e-9 relative here).
  const at::Tensor fine = at::linspace(0.0, 1.3, 200001, f64());
  const at::Tensor q = schedules.rate(1, fine);
  const double trapezoid =
      ((q.narrow(0, 1, 200000) + q.narrow(0, 0, 200000)) * 0.5 * (1.3 / 200000))
          .sum()
          .item<double>();
  const double closed = schedules.variance(1, at::tensor({1.3}, f64())).item<double>();
  CHECK(closed == Approx(trapezoid).epsilon(1e-8));
  // The rate agrees with lang's interpolation (the kernels' and the models').
  for (const double t : {0.0, 0.2, 0.5, 0.77, 1.0, 1.2}) {
    CHECK(schedules.rate(0, at::tensor({t}, f64())).item<double>() ==
          Approx(lang::interpolate_log_linear(process.learnables[0].knot_times,
                                              process.learnables[0].init_values, t))
              .epsilon(1e-12));
  }
}

TEST_CASE("knots stay increasing and positive under many large optimiser steps", "[knots]") {
  torch_setup(5);
  const lang::Process process = check_process(kTwoRates);
  LearnedSchedules schedules(process);
  torch::optim::Adam adam(schedules.parameters(), torch::optim::AdamOptions(5.0));
  // A loss that pulls every log-knot up or down at random, hard.
  for (int step = 0; step < 300; ++step) {
    adam.zero_grad();
    at::Tensor loss = at::zeros({}, f64());
    for (std::size_t i = 0; i < schedules.count(); ++i) {
      loss = loss + (at::randn({5}, f64()) * 100.0 * schedules.log_knots(i)).sum();
    }
    loss.backward();
    adam.step();
  }
  const KnotValues values = schedules.values();
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO("schedule " << schedules.name(i));
    CHECK(values[i].front() == Approx(process.learnables[i].init_values.front()).epsilon(1e-12));
    CHECK(values[i].back() == Approx(process.learnables[i].init_values.back()).epsilon(1e-12));
    for (std::size_t k = 0; k + 1 < values[i].size(); ++k) {
      CHECK(std::isfinite(values[i][k]));
      CHECK(values[i][k] > 0);
      CHECK(values[i][k] < values[i][k + 1]);
    }
  }
}

TEST_CASE("the mode map of two_subspace: g on the 13 low modes, h on the others", "[knots]") {
  const lang::Process process = check_library_file("library/two_subspace.spde");
  const NoiseOperator noise(process, 32, 32);
  const LearnableModes modes = learnable_modes(process, noise);
  REQUIRE(modes.coefficients.size() == 2);
  CHECK(modes.coefficients[0].gt(0).sum().item<std::int64_t>() == 13);
  CHECK(modes.coefficients[1].gt(0).sum().item<std::int64_t>() == 32 * 32 - 13);
  CHECK(max_abs_diff(modes.coefficients[0] + modes.coefficients[1], at::ones({32, 32}, f64())) <
        1e-12);
}

TEST_CASE("learnable schedules outside a VE process of the accepted form are refused", "[knots]") {
  const auto refused = [](const std::string& text, const std::string& why) {
    const lang::Process process = check_process(text);
    const NoiseOperator noise(process, 4, 4);
    CHECK_THROWS_WITH(learnable_modes(process, noise),
                      Catch::Contains("test.spde") && Catch::Contains(why));
  };
  // Non-linear: a cubic drift (and a learnable rate in the drift).
  refused(with_line("drift = 0", "drift = -u^3"), "drift is not 0");
  refused(with_line("drift = 0", "drift = -g(t) * u"), "drift is not 0");
  refused(with_line("diffusion = 1", "diffusion = 1 + 0.1 * u^2"), "diffusion is not a constant");
  refused(with_line("select(kappa <= 1, sqrt(g(t)), sqrt(h(t)))", "sqrt(g(t) * (1 + t))"),
          "reads t");
  refused(with_line("select(kappa <= 1, sqrt(g(t)), sqrt(h(t)))", "sqrt(g(t) + h(t))"),
          "not proportional to schedule g");
}

TEST_CASE("init values that do not increase are refused by the parameterisation", "[knots]") {
  const lang::Process process =
      check_process(with_line("geometric(0.5, 20, t)", "geometric(20, 0.5, t)"));
  CHECK_THROWS_WITH(LearnedSchedules(process),
                    Catch::Contains("test.spde:4") && Catch::Contains("learnable schedule h"));
}

}  // namespace spdec::runtime
