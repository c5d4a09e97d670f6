// EDM's training side as spdec expresses it (Karras, Aittala, Aila & Laine
// 2022, "Elucidating the Design Space of Diffusion-Based Generative
// Models", arXiv:2206.00364, table 1): library/edm.spde is its process, the
// per-mode denoiser preconditioning with model.preconditioning =
// "sigma_data" is its preconditioning and loss weight, model.time_input =
// "log_sigma" its c_noise, train.time_sampling = "log_normal" its noise
// levels. Each checked against EDM's formulas.
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "library_model.hpp"
#include "runtime/process/preconditioner.hpp"
#include "runtime/run/train_run.hpp"
#include "runtime/sampling/sigma_clock.hpp"
#include "runtime/spectral/linear_process.hpp"
#include "runtime/training/network_score.hpp"
#include "runtime/training/objective.hpp"
#include "runtime/training/schedule_objective.hpp"
#include "test_support.hpp"
#include "tiny_run.hpp"

namespace {

namespace sr = spdec::runtime;

constexpr std::int64_t kSide = 8;
constexpr double kSigmaData = 0.5;

double relative_error(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

}  // namespace

TEST_CASE("edm: edm.spde's noise level is its time, from 0.002 to 80", "[runtime][edm]") {
  spdec::test::torch_setup(20261207, 1);
  auto model = spdec::test::library_model("edm.spde", kSide);
  const sr::LinearProcess& linear = *model->linear();
  CHECK(model->start_time() == Approx(0.002));
  CHECK(model->end_time() == Approx(80.0));
  for (const double t : {0.002, 0.1, 1.0, 17.0, 80.0}) {
    INFO("t = " << t);
    // Every mode: mean factor 1, variance t² (σ(t) = t from σ(0) = 0).
    CHECK(linear.log_mean_factor(t).abs().max().item<double>() == 0.0);
    CHECK(linear.variance(t).min().item<double>() == Approx(t * t).epsilon(1e-12));
    CHECK(linear.variance(t).max().item<double>() == Approx(t * t).epsilon(1e-12));
    CHECK(sr::reference_sigma(linear, t) == Approx(t).epsilon(1e-12));
    CHECK(sr::time_of_sigma(linear, t, 0.002, 80.0) == Approx(t).epsilon(1e-12));
  }
}

// time_of_sigma stops at a relative 1e-14 of σ̄ (sigma_clock.cpp); 1e-13
// leaves room for the rounding of σ̄ itself (a mean of integrated
// variances). ve.spde's σ̄(t) = σ_min (σ_max/σ_min)^t is not the identity,
// so the secant steps have something to find.
TEST_CASE("edm: time_of_sigma inverts the reference noise level to 1e-13", "[runtime][edm]") {
  spdec::test::torch_setup(20261207, 1);
  for (const char* spde : {"edm.spde", "ve.spde"}) {
    auto model = spdec::test::library_model(spde, kSide);
    const sr::LinearProcess& linear = *model->linear();
    const double lo = model->start_time();
    const double hi = model->end_time();
    const double sigma_lo = sr::reference_sigma(linear, lo);
    const double sigma_hi = sr::reference_sigma(linear, hi);
    double previous = lo;
    for (int i = 1; i < 40; ++i) {
      const double sigma = sigma_lo * std::pow(sigma_hi / sigma_lo, i / 40.0);
      const double t = sr::time_of_sigma(linear, sigma, lo, hi);
      INFO(spde << " sigma " << sigma);
      CHECK(sr::reference_sigma(linear, t) / sigma == Approx(1.0).margin(1e-13));
      CHECK(t > previous);
      previous = t;
    }
    // Outside the range: the ends.
    CHECK(sr::time_of_sigma(linear, 0.5 * sigma_lo, lo, hi) == lo);
    CHECK(sr::time_of_sigma(linear, 2.0 * sigma_hi, lo, hi) == hi);
  }
}

// A denoiser network trains learnable knots through the flow its estimate
// implies, φ = M^{−1/2}(D − x). For data N(0, σ_d² I) the optimal flow is
// −E[ε | x] = −√M x / (σ_d² + M) per mode, and the sigma_data
// preconditioning with F = 0 is exactly the optimal denoiser (the Wiener
// filter c_skip x): the composition must give that flow. All in double: a
// few 8×8 DCT round trips, so 1e-12 of the flow's size is rounding.
TEST_CASE("edm: the denoiser's flow M^(-1/2) (D - x) is the optimal flow on Gaussian data",
          "[runtime][edm][knots]") {
  spdec::test::torch_setup(20261207, 1);
  auto model = spdec::test::library_model("edm.spde", kSide);
  const sr::SpectralBasis& basis = model->linear()->basis();
  const sr::Preconditioner preconditioner(sr::sigma_data_spectrum(basis, 1, kSigmaData));
  const std::vector<double> times{0.01, 0.5, 3.0, 40.0};
  const sr::ModeScales scales = model->mode_scales(times);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(5);
  const at::Tensor x = at::randn({4, 1, kSide, kSide}, generator, spdec::test::f64()) * 3.0;
  const sr::Preconditioner::State state = preconditioner.at(x, scales);
  const at::Tensor denoised = state.denoised(at::zeros_like(x));
  const at::Tensor flow = sr::flow_of_denoised(basis, x, denoised, scales.s2);
  const at::Tensor variance = scales.s2.to(at::kDouble);
  const at::Tensor expected =
      basis.multiply(x, -at::sqrt(variance) / (kSigmaData * kSigmaData + variance));
  CHECK(spdec::test::max_abs_diff(flow, expected) <= 1e-12 * expected.abs().max().item<double>());
}

TEST_CASE("edm: the sigma_data preconditioning of an isotropic process is EDM's",
          "[runtime][edm]") {
  spdec::test::torch_setup(20261207, 1);
  auto model = spdec::test::library_model("edm.spde", kSide);
  const sr::SpectralBasis& basis = model->linear()->basis();
  const sr::Preconditioner preconditioner(sr::sigma_data_spectrum(basis, 1, kSigmaData));
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto f64 = spdec::test::f64();
  for (const double sigma : {0.002, 0.3, 2.5, 80.0}) {
    INFO("sigma = " << sigma);
    const std::vector<double> times{sigma, sigma};
    const sr::ModeScales scales = model->mode_scales(times);
    const at::Tensor x0 = kSigmaData * at::randn({2, 1, kSide, kSide}, generator, f64);
    const at::Tensor xt = x0 + sigma * at::randn({2, 1, kSide, kSide}, generator, f64);
    const at::Tensor f = at::randn({2, 1, kSide, kSide}, generator, f64);
    // EDM, table 1.
    const double total = sigma * sigma + kSigmaData * kSigmaData;
    const double c_skip = kSigmaData * kSigmaData / total;
    const double c_out = sigma * kSigmaData / std::sqrt(total);
    const double c_in = 1.0 / std::sqrt(total);
    const double lambda = total / (sigma * kSigmaData * sigma * kSigmaData);
    const sr::Preconditioner::State state = preconditioner.at(xt, scales);
    // 1e-12: the same formulas in double through an orthonormal transform
    // and back (a few ulps per coefficient).
    CHECK(relative_error(state.input(), c_in * xt) < 1e-12);
    const at::Tensor d = state.denoised(f);
    CHECK(relative_error(d, c_skip * xt + c_out * f) < 1e-12);
    CHECK(relative_error(state.target(x0), (x0 - c_skip * xt) / c_out) < 1e-12);
    // The loss ‖F − F*‖² is EDM's λ(σ) ‖D − x₀‖².
    const double loss = (f - state.target(x0)).square().sum().item<double>();
    const double edm_loss = lambda * (d - x0).square().sum().item<double>();
    CHECK(loss == Approx(edm_loss).epsilon(1e-10));
    // Every mode weighs the same: the `pixel` weighting is the `mode` one.
    CHECK(state.pixel_weights().sub(1).abs().max().item<double>() < 1e-12);
    // c_noise = ln σ / 4.
    const at::Tensor c_noise =
        sr::network_time(*model, spdec::config::TimeInput::log_sigma, times, at::kCPU);
    CHECK(c_noise[1].item<double>() == Approx(std::log(sigma) / 4).epsilon(1e-6));
  }
}

TEST_CASE("edm: log-normal training noise levels have EDM's P_mean and P_std", "[runtime][edm]") {
  const auto identity = [](double sigma) { return sigma; };
  const std::vector<double> sigmas =
      sr::log_normal_times(40000, 1e-9, 1e9, -1.2, 1.2, identity, 5, 17);
  double sum = 0;
  double square = 0;
  for (const double s : sigmas) {
    sum += std::log(s);
    square += std::log(s) * std::log(s);
  }
  const auto n = static_cast<double>(sigmas.size());
  const double mean = sum / n;
  const double std = std::sqrt(square / n - mean * mean);
  // Standard errors over 40000 draws: 1.2/200 = 0.006 for the mean, 0.0042
  // for the std; 5 of them.
  CHECK(mean == Approx(-1.2).margin(0.03));
  CHECK(std == Approx(1.2).margin(0.021));
  // Keyed: the same (seed, step) gives the same draw; clamped to [lo, hi].
  CHECK(sr::log_normal_times(8, 1e-9, 1e9, -1.2, 1.2, identity, 5, 17) ==
        std::vector<double>(sigmas.begin(), sigmas.begin() + 8));
  for (const double t : sr::log_normal_times(1000, 0.1, 1.0, -1.2, 1.2, identity, 5, 18)) {
    CHECK((t >= 0.1 && t <= 1.0));
  }
}

// Flow matching trains on its own interpolation time, not the process's, so
// EDM's σ-reading keys would feed the network ln σ of an unrelated time (and
// ln 0 at the data end). Each is refused before training, naming the key and
// its fix; the same run with the defaults trains (so the refusal is the key's).
TEST_CASE("edm: log_sigma and log_normal with flow matching are refused, naming the key",
          "[runtime][edm]") {
  spdec::test::torch_setup();
  namespace fs = std::filesystem;
  const fs::path root = spdec::test::temp_dir("edm-flow-matching");
  const std::string flow = "train.objective=\"flow_matching\"";
  const std::vector<std::vector<std::string>> refused{{flow, "model.time_input=\"log_sigma\""},
                                                      {flow, "train.time_sampling=\"log_normal\""}};
  const std::vector<std::string> keys{"model.time_input", "train.time_sampling"};
  std::ostringstream quiet;
  for (std::size_t k = 0; k < refused.size(); ++k) {
    spdec::test::Run run = spdec::test::make_run(root / std::to_string(k), "ve.spde", refused[k]);
    CHECK_THROWS_WITH(sr::run_train(run.config, run.process, quiet),
                      Catch::Contains(keys[k]) && Catch::Contains("flow_matching"));
  }
  spdec::test::Run plain =
      spdec::test::make_run(root / "plain", "ve.spde", {flow, "train.steps=2"});
  CHECK(sr::run_train(plain.config, plain.process, quiet).steps == 2);
  fs::remove_all(root);
}

// model.preconditioning shapes only the denoiser network: a run that sets it
// for an ε-network is told so in its log; the denoiser run is not.
TEST_CASE("edm: preconditioning set for an ε-network is reported as unused", "[runtime][edm]") {
  spdec::test::torch_setup();
  namespace fs = std::filesystem;
  const fs::path root = spdec::test::temp_dir("edm-unused-preconditioning");
  const std::string warning = "model.preconditioning = \"sigma_data\" applies to the denoiser";
  for (const char* parameterisation : {"noise", "denoiser"}) {
    spdec::test::Run run =
        spdec::test::make_run(root / parameterisation, "edm.spde",
                              {std::string("model.parameterisation=\"") + parameterisation + "\"",
                               "model.preconditioning=\"sigma_data\"", "train.steps=1"});
    std::ostringstream log;
    sr::run_train(run.config, run.process, log);
    INFO(log.str());
    CHECK((log.str().find(warning) != std::string::npos) ==
          (std::string(parameterisation) == "noise"));
  }
  fs::remove_all(root);
}
