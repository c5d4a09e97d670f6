// Oracles of the stiff-safe pieces (docs/design.md, "Parameterisation" and
// "Samplers"): the per-mode EDM preconditioning of the denoiser, the exact
// posterior sampler, the per-mode exponential integrator, and the stability
// warning of the explicit samplers. Driven by closed-form denoisers
// (analytic_score.hpp), never by a network.
//
// How each tolerance is argued is written next to its check.
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "analytic_score.hpp"
#include "codegen/pipeline.hpp"
#include "lang/check.hpp"
#include "lang/diagnostics.hpp"
#include "library_model.hpp"
#include "oracle_data.hpp"
#include "runtime/process/preconditioner.hpp"
#include "runtime/process/process_model.hpp"
#include "runtime/sampling/data_prior.hpp"
#include "runtime/sampling/grid_choice.hpp"
#include "runtime/sampling/posterior_variance.hpp"
#include "runtime/sampling/sampler.hpp"
#include "runtime/spectral/linear_process.hpp"
#include "runtime/spectral/prior.hpp"
#include "test_support.hpp"

namespace {

using spdec::test::gaussian_data;
using spdec::test::GaussianData;
using spdec::test::three_images;

namespace sr = spdec::runtime;
using sr::Predictor;

constexpr std::int64_t kSide = 8;

void setup() { spdec::test::torch_setup(20261206, 1); }

/// A library process on kSide × kSide on the compiled CPU kernels; a
/// decoupled flow by FED where it applies, as `spdec run` does
/// (process.flow = "auto").
std::unique_ptr<sr::ProcessModel> model_of(const std::string& file) {
  sr::ModelOptions options;
  options.flow = sr::FlowScheme::automatic;
  return spdec::test::library_model(file, kSide, options);
}

/// The denoiser's preconditioning for the Gaussian data's own spectrum.
sr::Preconditioner preconditioner_of(const sr::LinearProcess& linear, const GaussianData& data) {
  return sr::Preconditioner(
      sr::GaussianPrior(linear.basis(), data.mean, data.variance.unsqueeze(0)));
}

/// n draws of the data, float32 [n, 1, H, W].
at::Tensor draw_data(const sr::SpectralBasis& basis, const GaussianData& data, std::int64_t n,
                     std::uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor xi = at::randn({n, 1, kSide, kSide}, generator, spdec::test::f64());
  return (data.mean + basis.multiply(xi, at::sqrt(data.variance))).to(at::kFloat);
}

/// The exact marginal at T of the Gaussian data: per mode N(m_T μ̂, m_T² c + v_T).
sr::GaussianPrior exact_prior(const sr::LinearProcess& linear, const GaussianData& data) {
  const double T = linear.end_time();
  const at::Tensor m_T = linear.mean_factor(T);
  return {linear.basis(), linear.basis().multiply(data.mean, m_T),
          (m_T * m_T * data.variance + linear.variance(T)).unsqueeze(0)};
}

std::vector<double> times_of(std::int64_t n, double t) {
  return std::vector<double>(static_cast<std::size_t>(n), t);
}

/// X_t of every row of x0 at one time t, from the noise stream `seed`.
at::Tensor perturbed_at(sr::ProcessModel& model, const at::Tensor& x0, double t,
                        std::uint64_t seed) {
  sr::NoiseSource noise;
  noise.seed = seed;
  return model.perturb(x0, times_of(x0.size(0), t), noise).xt;
}

// ---------------------------------------------------------------------------
// The preconditioner

TEST_CASE("denoiser: a zero network is the exact posterior mean of Gaussian data",
          "[runtime][denoiser]") {
  setup();
  auto model = model_of("heat.spde");
  const sr::LinearProcess& linear = *model->linear();
  const GaussianData data = gaussian_data(linear.basis());
  const sr::Preconditioner preconditioner = preconditioner_of(linear, data);
  spdec::test::GaussianDataScore score(linear, data.mean, data.variance);
  const at::Tensor x0 = draw_data(linear.basis(), data, 16, 3);
  // Tweedie, M_t⁻¹(x + Σ_t s), computed in double through the exact score:
  // an independent route to E[x₀ | x_t], usable where M_t⁻¹ is moderate.
  for (const double t : {1e-3, 0.05, 0.3}) {
    INFO("t = " << t);
    const std::vector<double> times = times_of(16, t);
    const at::Tensor xt = perturbed_at(*model, x0, t, 9).to(at::kDouble);
    const at::Tensor tweedie =
        linear.basis().multiply(xt + linear.apply_covariance(score(xt, t), times, sr::QPower::one),
                                at::exp(-linear.log_mean_factor(t)));
    const sr::ModeScales scales = model->mode_scales(times);
    const at::Tensor d = preconditioner.denoised(xt, at::zeros_like(xt), scales);
    // Both are double: agreement to rounding amplified by M_t⁻¹ (≤ e^{θκ},
    // ~1e3 at t = 0.3 for the top mode on 8×8), so 1e-9 of the scale.
    CHECK((d - tweedie).abs().max().item<double>() < 1e-9);
  }
}

TEST_CASE("denoiser: the pixel weighting of the loss is D's error in pixels",
          "[runtime][denoiser]") {
  setup();
  auto model = model_of("heat.spde");
  const sr::LinearProcess& linear = *model->linear();
  const GaussianData data = gaussian_data(linear.basis());
  const sr::Preconditioner preconditioner = preconditioner_of(linear, data);
  const at::Tensor x0 = draw_data(linear.basis(), data, 6, 21).to(at::kDouble);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(22);
  const at::Tensor f = at::randn(x0.sizes(), generator, spdec::test::f64());
  // Two routes: the weights on |Vᵀ(F − F*)|² (what the loss computes), and
  // D's pixel error through denoised() over the mean c_out² (from
  // output_variance). They agree by D − x₀ = V[c_out ⊙ Vᵀ(F − F*)], so only
  // double rounding separates them.
  for (const double t : {1e-3, 0.05, 0.3, model->end_time()}) {
    INFO("t = " << t);
    const at::Tensor xt = perturbed_at(*model, x0, t, 23).to(at::kDouble);
    const sr::ModeScales scales = model->mode_scales(times_of(6, t));
    const sr::Preconditioner::State state = preconditioner.at(xt, scales);
    const at::Tensor weighted =
        (linear.basis().transform(f - state.target(x0)).square() * state.pixel_weights())
            .sum({1, 2, 3});
    const at::Tensor mean_out2 =
        preconditioner.output_variance(scales).expand_as(x0).mean({1, 2, 3});
    const at::Tensor pixels = (state.denoised(f) - x0).square().sum({1, 2, 3}) / mean_out2;
    CHECK(((weighted - pixels).abs() / pixels).max().item<double>() < 1e-9);
  }
}

TEST_CASE("denoiser: unit-variance targets per mode, finite everywhere in float32",
          "[runtime][denoiser]") {
  setup();
  for (const char* file : {"heat.spde", "ve.spde"}) {
    auto model = model_of(file);
    const sr::LinearProcess& linear = *model->linear();
    const GaussianData data = gaussian_data(linear.basis());
    const sr::Preconditioner preconditioner = preconditioner_of(linear, data);
    constexpr std::int64_t n = 8192;
    const at::Tensor x0 = draw_data(linear.basis(), data, n, 5);
    for (const double fraction : {0.001, 0.1, 0.5, 1.0}) {
      const double t = std::max(fraction * model->end_time(), model->start_time());
      INFO(file << ", t = " << t);
      const at::Tensor xt = perturbed_at(*model, x0, t, 13);  // float32
      const sr::ModeScales scales = model->mode_scales(times_of(n, t));
      const at::Tensor input = preconditioner.input(xt, scales);
      const at::Tensor target = preconditioner.target(x0, xt, scales);
      REQUIRE(at::isfinite(input).all().item<bool>());
      REQUIRE(at::isfinite(target).all().item<bool>());
      // Per mode, the sample variance of F* and of the input over n draws:
      // for Gaussian data both are exactly 1, and the estimate's relative
      // standard error is √(2/n) = 1.6 %. 64 modes × 2 quantities × 4 times
      // × 2 processes = 1024 checks: at 5 standard errors (8 %) a correct
      // implementation fails one with probability ~6e-4; a mis-scaled mode
      // (a wrong m, s or σ_d) is off by far more.
      const double tolerance = 5.0 * std::sqrt(2.0 / n);
      const at::Tensor target_modes = linear.basis().transform(target.to(at::kDouble));
      const at::Tensor input_modes = linear.basis().transform(input.to(at::kDouble));
      const at::Tensor target_var = target_modes.var(0, false).squeeze(0);
      const at::Tensor input_var = input_modes.var(0, false).squeeze(0);
      CHECK((target_var - 1.0).abs().max().item<double>() < tolerance);
      CHECK((input_var - 1.0).abs().max().item<double>() < tolerance);
    }
    // A dense grid up to T, float32: no NaN or infinity even where m_t
    // underflows (heat's top mode at T: e^{-θκ} far below 1e-38).
    const at::Tensor few = x0.narrow(0, 0, 4);
    for (int i = 0; i <= 200; ++i) {
      const double t = model->start_time() +
                       (model->end_time() - model->start_time()) * static_cast<double>(i) / 200;
      const at::Tensor xt = perturbed_at(*model, few, t, 0);
      const sr::ModeScales scales = model->mode_scales(times_of(4, t));
      const at::Tensor d = preconditioner.denoised(xt, preconditioner.input(xt, scales), scales);
      REQUIRE(at::isfinite(d).all().item<bool>());
      REQUIRE(at::isfinite(preconditioner.target(few, xt, scales)).all().item<bool>());
    }
  }
}

// ---------------------------------------------------------------------------
// The posterior sampler on Gaussian data

/// The per-mode sample variance and mean of n samples drawn with the exact
/// denoiser and Γ, against the data's.
void check_posterior_gaussian(const char* file, std::int64_t steps) {
  setup();
  auto model = model_of(file);
  const sr::LinearProcess& linear = *model->linear();
  const GaussianData data = gaussian_data(linear.basis());
  spdec::test::GaussianDataDenoiser denoiser(linear, data.mean, data.variance);
  constexpr std::int64_t n = 1 << 17;
  const at::Tensor x_T = sr::draw_prior(*model, exact_prior(linear, data), n, 17, {}, at::kCPU);
  sr::SamplerOptions options;
  options.predictor = Predictor::posterior;
  options.steps = steps;
  options.seed = 19;
  options.x0_variance = [&denoiser](double t) { return denoiser.posterior_variance(t); };
  const at::Tensor x = sr::sample(*model, denoiser, x_T, options);
  REQUIRE(at::isfinite(x).all().item<bool>());
  const at::Tensor modes = linear.basis().transform(x.to(at::kDouble) - data.mean);
  const at::Tensor ratio = modes.var(0, false).squeeze(0) / data.variance;
  const at::Tensor mean_error = modes.mean(0).squeeze(0) / at::sqrt(data.variance);
  INFO(file << ", " << steps << " steps: variance ratio per mode in [" << ratio.min().item<double>()
            << ", " << ratio.max().item<double>() << "]");
  // With the exact denoiser and Γ the chain is exact at any step count
  // (each step draws from p(x_s | x_t) exactly), so the only error is Monte
  // Carlo: the relative standard error of a variance is √(2/n) = 0.39 % and
  // of a mean √(1/n) = 0.28 % of the mode's std. 2 % is 5 standard errors
  // per mode (64 modes: a correct sampler fails with probability ~4e-5); a
  // sampler that drops Γ is off by 26–97 % at 10 steps on heat.
  CHECK((ratio - 1.0).abs().max().item<double>() < 0.02);
  CHECK(mean_error.abs().max().item<double>() < 0.015);
}

TEST_CASE("posterior sampler: Gaussian data under heat at 10 and 100 steps",
          "[runtime][sampler][oracle]") {
  check_posterior_gaussian("heat.spde", 10);
  check_posterior_gaussian("heat.spde", 100);
}

TEST_CASE("posterior sampler: Gaussian data under VE at 10 and 100 steps",
          "[runtime][sampler][oracle]") {
  check_posterior_gaussian("ve.spde", 10);
  check_posterior_gaussian("ve.spde", 100);
}

TEST_CASE("posterior variance: the held-out estimate of Gamma is the posterior variance",
          "[runtime][sampler][oracle]") {
  setup();
  auto model = model_of("heat.spde");
  const sr::LinearProcess& linear = *model->linear();
  const GaussianData data = gaussian_data(linear.basis());
  spdec::test::GaussianDataDenoiser denoiser(linear, data.mean, data.variance);
  constexpr std::int64_t k = 4096;
  const at::Tensor held_out = draw_data(linear.basis(), data, k, 47);
  const std::vector<double> times = {0.01, 0.2, 1.0, 2.0};
  const auto table = sr::PosteriorVarianceTable::estimate(*model, denoiser, held_out, times, 53);
  REQUIRE(table.size() == times.size());
  for (const double t : times) {
    const at::Tensor estimated = table(t).squeeze(0);
    const at::Tensor exact = denoiser.posterior_variance(t);
    const double worst = ((estimated - exact).abs() / exact).max().item<double>();
    INFO("t = " << t << ": worst relative error " << worst);
    // For the exact denoiser the error D_k − x₀,k is Gaussian with variance
    // Γ_k, so its mean square over k draws has relative standard error
    // √(2/k) = 2.2 %; 11 % is 5 of them (64 modes × 4 times: a correct
    // estimator fails with probability ~1e-4).
    CHECK(worst < 5.0 * std::sqrt(2.0 / k));
  }
  // Between tabulated times, linear interpolation.
  const at::Tensor middle = table(0.6);
  CHECK((middle - 0.5 * (table(0.2) + table(1.0))).abs().max().item<double>() < 1e-12);
}

// ---------------------------------------------------------------------------
// The exponential integrator's order

/// The relative error of the probability-flow map x_T ↦ x_{t₀} of Gaussian
/// data, which is linear per mode with exact gain √(V(t₀)/V(T)), V = m² c +
/// v: ‖(gain − exact) √V(T)‖ / ‖exact √V(T)‖ over modes, i.e. the error of
/// the map on a typical x_T relative to its typical output. (A per-mode
/// maximum would be dominated by float32 rounding in the modes whose output
/// is ~1e-4 of their input, e.g. VE's finest ones.)
double exponential_gain_error(sr::ProcessModel& model, const GaussianData& data, int order,
                              std::int64_t steps, const sr::TimeGrid& grid) {
  const sr::LinearProcess& linear = *model.linear();
  const sr::SpectralBasis& basis = linear.basis();
  spdec::test::GaussianDataDenoiser denoiser(linear, data.mean, data.variance);
  const double T = model.end_time();
  const double t0 = model.start_time();
  // One image whose every mode is 1 above the marginal's mean at T.
  const at::Tensor ones = at::ones({1, 1, kSide, kSide}, spdec::test::f64());
  const at::Tensor x_T =
      (basis.multiply(data.mean, linear.mean_factor(T)) + basis.inverse(ones)).to(at::kFloat);
  sr::SamplerOptions options;
  options.predictor = Predictor::exponential;
  options.order = order;
  options.grid = grid;
  options.steps = steps;
  options.denoise = false;
  const at::Tensor x = sr::sample(model, denoiser, x_T, options).to(at::kDouble);
  const at::Tensor gain = basis.transform(x - basis.multiply(data.mean, linear.mean_factor(t0)));
  const auto variance = [&](double t) {
    const at::Tensor m = linear.mean_factor(t);
    return m * m * data.variance + linear.variance(t);
  };
  const at::Tensor exact = at::sqrt(variance(t0) / variance(T));
  const at::Tensor weight = variance(T);
  return std::sqrt(((gain.squeeze() - exact).square() * weight).sum().item<double>() /
                   (exact.square() * weight).sum().item<double>());
}

TEST_CASE("exponential integrator: orders 1 and 2 on the probability flow",
          "[runtime][sampler][oracle]") {
  setup();
  for (const char* file : {"ve.spde", "heat.spde"}) {
    auto model = model_of(file);
    const GaussianData data = gaussian_data(model->linear()->basis());
    // An order shows only on a grid whose every step shrinks like 1/N in
    // every mode's λ = log(m/s). VE's s runs from 50 down to 1e-4 at t₀ =
    // 1e-5, so a uniform t-grid's last step spans a λ-range that shrinks
    // only like log N; EDM's power grid (ρ = 7) spaces λ evenly enough.
    sr::TimeGrid grid;
    grid.kind = sr::GridKind::power;
    for (const int order : {1, 2}) {
      std::vector<double> step_sizes;
      std::vector<double> errors;
      for (const std::int64_t steps : {20, 40, 80, 160}) {
        const double error = exponential_gain_error(*model, data, order, steps, grid);
        INFO(file << ", order " << order << ", " << steps << " steps: error " << error);
        CHECK(std::isfinite(error));
        step_sizes.push_back(1.0 / static_cast<double>(steps));
        errors.push_back(error);
      }
      const double slope = spdec::test::loglog_slope(step_sizes, errors);
      INFO(file << ", order " << order << ": fitted order " << slope);
      // Float32 states, so errors stop falling near 1e-6; at these step
      // counts they stay well above it. A first-order method fits ~1, a
      // second-order one ~2; the bounds leave 10 % for the pre-asymptotic
      // range.
      CHECK(slope >= (order == 1 ? 0.9 : 1.8));
    }
  }
}

// ---------------------------------------------------------------------------
// Stability at any step count

TEST_CASE("stable samplers: finite in float32 from 5 to 2000 steps on heat",
          "[runtime][sampler][oracle]") {
  setup();
  auto model = model_of("heat.spde");
  const sr::LinearProcess& linear = *model->linear();
  const GaussianData data = gaussian_data(linear.basis());
  spdec::test::GaussianDataDenoiser exact(linear, data.mean, data.variance);
  // A denoiser with an error of 0.1 in every pixel, as a network has: an
  // ε-parameterised sampler would multiply it by M_t⁻¹ (~e^{188} at T).
  sr::LambdaDenoiser perturbed(
      [&exact](const at::Tensor& x, double t) { return exact(x, t) + 0.1; });
  const at::Tensor x_T = sr::draw_prior(*model, exact_prior(linear, data), 64, 23, {}, at::kCPU);
  for (const std::int64_t steps : {5, 10, 50, 200, 2000}) {
    for (const Predictor predictor : {Predictor::posterior, Predictor::exponential}) {
      for (sr::Denoiser* denoiser :
           {static_cast<sr::Denoiser*>(&exact), static_cast<sr::Denoiser*>(&perturbed)}) {
        sr::SamplerOptions options;
        options.predictor = predictor;
        options.steps = steps;
        const at::Tensor x = sr::sample(*model, *denoiser, x_T, options);
        INFO(steps << " steps, " << sr::name(predictor));
        CHECK(at::isfinite(x).all().item<bool>());
        // Every factor of both steps is at most 1 in size, so the samples
        // stay within the data's scale (|x| ≲ 3 for this data, plus the
        // denoiser's offset): nothing grows.
        CHECK(x.abs().max().item<double>() < 5.0);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Three images: the mixture weights

void check_mixture_weights(const char* file, std::int64_t steps, std::int64_t n, double tolerance) {
  setup();
  auto model = model_of(file);
  const at::Tensor images = three_images(kSide);
  const std::vector<double> weights = {0.5, 0.3, 0.2};
  spdec::test::MixtureScore mixture(*model, images, weights);
  spdec::test::MixtureDenoiser denoiser(mixture);
  // The exact marginal at T, so that what is measured is the sampler, not
  // a prior's approximation: spdec's data prior (sample.prior = "simulate")
  // over ten rows holding the images 5, 3 and 2 times, i.e. the weights.
  const at::Tensor rows = images.index_select(
      0, at::tensor({0, 0, 0, 0, 0, 1, 1, 1, 2, 2}, at::TensorOptions().dtype(at::kLong)));
  const at::Tensor x_T = sr::simulate_prior(
      *model, rows, 29, at::arange(n, at::TensorOptions().dtype(at::kLong)), at::kCPU);
  sr::SamplerOptions options;
  options.predictor = Predictor::posterior;
  options.steps = steps;
  options.seed = 37;
  const at::Tensor x = sr::sample(*model, denoiser, x_T, options);
  REQUIRE(at::isfinite(x).all().item<bool>());
  auto [nearest, distance] = mixture.nearest(x);
  const at::Tensor frequencies = at::bincount(nearest, {}, 3).to(at::kDouble) / n;
  const at::Tensor error = (frequencies - at::tensor(weights, at::kDouble)).abs();
  INFO(file << ", " << steps << " steps: frequencies " << frequencies);
  // A weight's standard error is ≤ √(0.25/n) = 0.005 at n = 10⁴; 0.02 is 4
  // of them (three weights: a correct sampler fails with probability
  // ~2e-4), while the
  // reverse-SDE step at these step counts gives near-uniform weights (heat)
  // or a 0.07 bias (anisotropic drift at the noisy state).
  CHECK(error.max().item<double>() < tolerance);
  const double separation = at::pdist(images.flatten(1).to(at::kDouble)).min().item<double>();
  CHECK(distance.max().item<double>() < 0.01 * separation);
}

TEST_CASE("posterior sampler: three images under heat at 50 steps", "[runtime][sampler][oracle]") {
  check_mixture_weights("heat.spde", 50, 10000, 0.02);
}

TEST_CASE("posterior sampler: three images under the anisotropic process, decoupled, 50 steps",
          "[runtime][sampler][oracle]") {
  // The flow by FED (136 steps to T); with the explicit 2000-step flow the
  // same check took 10 CPU minutes and gave weights 0.495 / 0.308 / 0.198.
  check_mixture_weights("perona_malik.spde", 50, 10000, 0.02);
}

// ---------------------------------------------------------------------------
// The Gaussian oracle that ranks time grids

TEST_CASE("grid choice: the closed-form oracle agrees with the sampler it models",
          "[runtime][sampler][oracle]") {
  setup();
  auto model = model_of("heat.spde");
  const sr::LinearProcess& linear = *model->linear();
  const GaussianData data = gaussian_data(linear.basis());
  spdec::test::GaussianDataDenoiser denoiser(linear, data.mean, data.variance);
  sr::SamplerOptions options;
  options.predictor = Predictor::posterior;
  options.steps = 10;
  options.denoise = false;
  options.seed = 41;
  // No Γ: the plain posterior sampler loses variance at few steps, and that
  // loss per mode is what the oracle predicts in closed form.
  const double predicted = sr::gaussian_oracle_error(*model, data.variance, options);
  constexpr std::int64_t n = 1 << 16;
  const at::Tensor x_T = sr::draw_prior(*model, exact_prior(linear, data), n, 43, {}, at::kCPU);
  const at::Tensor x = sr::sample(*model, denoiser, x_T, options).to(at::kDouble);
  const double t0 = model->start_time();
  const at::Tensor m0 = linear.mean_factor(t0);
  const at::Tensor modes = linear.basis().transform(x - linear.basis().multiply(data.mean, m0));
  const at::Tensor exact = m0 * m0 * data.variance + linear.variance(t0);
  const at::Tensor relative = (modes.var(0, false).squeeze(0) - exact).abs() / exact;
  const double measured =
      (relative * data.variance).sum().item<double>() / data.variance.sum().item<double>();
  INFO("oracle " << predicted << ", sampled " << measured);
  // The measured value carries Monte Carlo error: each mode's variance has a
  // relative standard error √(2/n) = 0.55 %, and the weighted mean of
  // absolute deviations adds at most that; 0.02 absolute is > 3 of them
  // while the predicted loss itself is tens of percent at 10 steps.
  CHECK(predicted > 0.05);
  CHECK(std::abs(measured - predicted) < 0.02);
  // More steps, less loss; and the ranking puts its best first.
  options.steps = 100;
  CHECK(sr::gaussian_oracle_error(*model, data.variance, options) < predicted);
  const auto ranked = sr::rank_time_grids(*model, data.variance, options);
  REQUIRE(ranked.size() == 5);
  CHECK(ranked.front().error <= ranked.back().error);
}

// ---------------------------------------------------------------------------
// The stability warning

TEST_CASE("stability warning: explicit steps of a stiff drift are named, with a stable count",
          "[runtime][sampler]") {
  setup();
  auto model = model_of("heat.spde");
  sr::SamplerOptions options;
  options.predictor = Predictor::reverse_sde;
  options.steps = 20;
  // heat at 8 px: α₁(T) = 2·8 = 16 and the top mode of the Neumann five-point
  // Laplacian has κ = 8 sin²(7π/16) = 7.69, so Λ = 123 and 20 uniform steps
  // over T = 2 give h·Λ = 12.3 > 2; 200 steps give 1.23 < 2.
  const std::string warning = sr::stability_warning(*model, options);
  INFO(warning);
  CHECK(warning.find("unstable") != std::string::npos);
  const auto at = warning.find("h*Lambda = ");
  REQUIRE(at != std::string::npos);
  const double product = std::stod(warning.substr(at + 11));
  CHECK(std::abs(product - 0.1 * 16 * 8 * std::pow(std::sin(7 * M_PI / 16), 2)) < 0.05 * product);
  // The step count it proposes is stable by its own measure.
  const auto about = warning.find("About ");
  REQUIRE(about != std::string::npos);
  options.steps = std::stoll(warning.substr(about + 6));
  CHECK(options.steps >= 123);
  CHECK(sr::stability_warning(*model, options).empty());
  options.steps = 200;
  CHECK(sr::stability_warning(*model, options).empty());
  options.steps = 20;
  options.predictor = Predictor::posterior;
  CHECK(sr::stability_warning(*model, options).empty());
}

}  // namespace
