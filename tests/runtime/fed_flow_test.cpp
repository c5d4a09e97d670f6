// Fast Explicit Diffusion flows (runtime/kernels/fed_flow.hpp): the kernels against
// their oracle, the extremum principle, the linear limit against the exact
// semigroup, convergence to the fine explicit flow, and determinism of the
// branched sweeps.
#include "runtime/kernels/fed_flow.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "codegen/pipeline.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/kernels/process_kernels.hpp"
#include "runtime/spectral/linear_process.hpp"
#include "tests/runtime/test_support.hpp"

namespace {

namespace rt = spdec::runtime;
using spdec::test::f32;
using spdec::test::max_abs_diff;

std::string library_text(const std::string& file) {
  std::ifstream in(std::filesystem::path(SPDEC_SOURCE_DIR) / "library" / file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The library process at 28 × 28 (α1 from 0.5 to 56), optionally untamed.
std::string at_28(std::string text, bool untamed) {
  text = std::regex_replace(text, std::regex(R"(param size\s*=\s*32)"), "param size = 28");
  if (untamed) text = std::regex_replace(text, std::regex(R"(taming = 1)"), "taming = off");
  return text;
}

struct Bound {
  std::shared_ptr<const spdec::lang::Process> process;
  std::shared_ptr<const spdec::codegen::StencilProgram> program;
  std::unique_ptr<rt::ProcessKernels> compiled;
  std::unique_ptr<rt::ProcessKernels> reference;
};

Bound bind_process(const std::string& text) {
  Bound b;
  b.process = std::make_shared<const spdec::lang::Process>(spdec::test::check_process(text));
  b.program = std::make_shared<const spdec::codegen::StencilProgram>(
      spdec::codegen::build_program(*b.process));
  b.compiled = rt::make_compiled_kernels(b.process, b.program, at::kCPU);
  b.reference = rt::make_reference_kernels(b.process, b.program);
  return b;
}

/// Fashion-MNIST test images in [-1, 1] when installed, else smooth random
/// fields with step edges (the two regimes of the conductance).
at::Tensor images(std::int64_t n) {
  if (std::filesystem::exists(std::filesystem::path(rt::kFashionMnistDir) /
                              "t10k-images-idx3-ubyte.gz")) {
    rt::DatasetSpec spec;
    spec.split = spdec::config::Split::test;
    spec.limit = n;
    return rt::load_dataset(spec).to_float().contiguous();
  }
  WARN("Fashion-MNIST not installed: synthetic images");
  at::Tensor u = at::avg_pool2d(at::randn({n, 1, 36, 36}, f32()), 9, 1) * 3.0;
  u.narrow(3, 10, 8).add_(0.8);
  return at::clamp(u, -1.0, 1.0).contiguous();
}

/// ∫₀ᵗ α2² for α2 geometric from a to b over [0, T] (the noise variance).
double noise_variance(double t, double a, double b, double T) {
  const double rate = 2.0 * std::log(b / a) / T;
  return a * a * (std::exp(rate * t) - 1.0) / rate;
}

/// The largest amplification of a rounding error made before step k of a
/// cycle: max over λ in [−L, 0] and k of Π_{i≥k} |1 + τᵢ λ| (sampled).
double amplification(const std::vector<double>& taus, double bound) {
  double worst = 1.0;
  for (int s = 0; s <= 2000; ++s) {
    const double lambda = -bound * s / 2000.0;
    double product = 1.0;
    for (std::size_t k = taus.size(); k-- > 0;) {
      product *= std::abs(1.0 + taus[k] * lambda);
      worst = std::max(worst, product);
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("fed: the FED step table covers the cycle and is a permutation of the FED steps",
          "[runtime][fed]") {
  for (const double length : {0.01, 0.3, 1.0, 7.5}) {
    const double tau_max = 0.25;
    const std::vector<double> taus = rt::fed_step_sizes(length, tau_max);
    double sum = 0;
    for (const double tau : taus) sum += tau;
    CHECK(std::abs(sum - length) <= 1e-12 * length);
    const auto n = static_cast<double>(taus.size());
    // n is the least with τ_max n(n+1)/3 ≥ length.
    CHECK(tau_max * n * (n + 1) / 3.0 >= length * (1 - 1e-12));
    CHECK(tau_max * (n - 1) * n / 3.0 < length);
    // Stable: |Π(1 + τᵢλ)| ≤ 1 on [−2/τ_max, 0] (sampled), up to rounding.
    double worst = 0;
    for (int s = 0; s <= 4000; ++s) {
      const double lambda = -2.0 / tau_max * s / 4000.0;
      double p = 1;
      for (const double tau : taus) p *= 1.0 + tau * lambda;
      worst = std::max(worst, std::abs(p));
    }
    CHECK(worst <= 1.0 + 1e-9);
  }
}

TEST_CASE("fed: compiled fed_steps equal the reference evaluator (lagged operator, variance)",
          "[runtime][fed]") {
  spdec::test::torch_setup();
  for (const char* file : {"perona_malik.spde", "heat.spde", "perona_malik_sde.spde"}) {
    INFO(file);
    Bound b = bind_process(at_28(library_text(file), false));
    REQUIRE(b.program->fed.available);
    at::Tensor u = images(3);
    const at::Tensor frozen = (u + 0.1 * at::randn_like(u)).contiguous();
    for (const double t : {0.0, 0.7, 1.9}) {
      const double length = 0.05;
      const double bound = rt::fed_operator_bound(*b.compiled, t, t + length, false);
      const std::vector<double> taus = rt::fed_step_sizes(length, 0.99 * 2.0 / bound);
      const rt::FedCycle cycle{t, t + length, taus};
      at::Tensor var_c = at::zeros_like(u);
      at::Tensor var_r = at::zeros_like(u);
      const at::Tensor c = b.compiled->fed_steps(u, frozen, {}, cycle, &var_c);
      const at::Tensor r = b.reference->fed_steps(u, frozen, {}, cycle, &var_r);
      // Both evaluate the same operator in float32 (the kernels from the
      // hoisted conductances, the reference from the unhoisted IR) and differ
      // per step by a few ulps of |u| ≤ 1 (~1e-7 · the stencil's weight sum);
      // a difference made before step k is amplified by at most the partial
      // product of the remaining factors, |Π_{i≥k}(1 + τᵢλ)|, over the
      // operator's spectrum [−L, 0]. So: 1e-6 · steps · that amplification.
      const double tolerance = 1e-6 * static_cast<double>(taus.size()) * amplification(taus, bound);
      INFO("t = " << t << ", steps " << taus.size() << ", tolerance " << tolerance);
      CHECK(max_abs_diff(c, r) <= tolerance);
      CHECK(max_abs_diff(var_c, var_r) <= 1e-6 * max_abs_diff(var_r, at::zeros_like(var_r)));
      // Frozen omitted: the conductances at u.
      CHECK(max_abs_diff(b.compiled->fed_steps(u, {}, {}, cycle),
                         b.reference->fed_steps(u, u, {}, cycle)) <= tolerance);
    }
  }
}

TEST_CASE("fed: a process whose lagged drift is not linear in u has no FED operator",
          "[runtime][fed]") {
  spdec::test::torch_setup();
  const std::string text = R"(process reaction
schedule a(t) = 1 + t
drift     = a(t) * lap(u) + u * (1 - u * u)
diffusion = 0.1
time T = 1, t0 = 0.001, dt = 0.001
)";
  Bound b = bind_process(text);
  CHECK_FALSE(b.program->fed.available);
  INFO(b.program->fed.refusal);
  CHECK(b.program->fed.refusal.find("not linear") != std::string::npos);
  const at::Tensor u = at::zeros({1, 1, 4, 4}, f32());
  CHECK_THROWS_AS(b.compiled->fed_steps(u, u, {}, rt::FedCycle{0, 0.1, {0.1}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(b.reference->fed_steps(u, u, {}, rt::FedCycle{0, 0.1, {0.1}}),
                  std::invalid_argument);
}

TEST_CASE("fed: Perona-Malik flows keep min x0 <= u <= max x0 at every cycle end",
          "[runtime][fed]") {
  spdec::test::torch_setup();
  Bound b = bind_process(at_28(library_text("perona_malik.spde"), false));
  const at::Tensor x0 = images(4);
  const double low = x0.min().item<double>();
  const double high = x0.max().item<double>();
  // Rounding: each step moves u by float32 rounding (~6e-8 of |u| ≤ 1 times
  // the weight sum of the stencil, O(1)), at most ~25 steps per cycle and
  // the whole run's ~100 steps; 1e-5 is 100 x that and far below any real
  // violation (a FED overshoot of an edge is O(1e-2) and larger).
  const double slack = 1e-5;
  for (const std::int64_t cycles : {5, 20}) {
    rt::FedOptions options;
    options.cycles = cycles;
    const rt::FedSchedule schedule = rt::FedSchedule::build(*b.compiled, *b.process, options);
    at::Tensor u = x0;
    for (const rt::FedCycle& cycle : schedule.cycles) {
      u = b.compiled->fed_steps(u, u, {}, cycle);
      INFO("cycles " << cycles << ", cycle ending at " << cycle.t_end << ", steps "
                     << cycle.taus.size());
      CHECK(u.min().item<double>() >= low - slack);
      CHECK(u.max().item<double>() <= high + slack);
    }
    for (const double t : {0.05, 0.5, 1.0, 1.5, 1.8, 2.0}) {
      const at::Tensor phi = rt::fed_flow(*b.compiled, *b.process, x0, t, schedule);
      INFO("t = " << t);
      CHECK(phi.min().item<double>() >= low - slack);
      CHECK(phi.max().item<double>() <= high + slack);
    }
  }
}

TEST_CASE("fed: heat under FED converges to the exact semigroup as cycles grow", "[runtime][fed]") {
  spdec::test::torch_setup();
  const std::string text = at_28(library_text("heat.spde"), false);
  Bound b = bind_process(text);
  const rt::LinearProcess exact(b.process, 28, 28);
  const at::Tensor x0 = images(2).to(at::kDouble);
  std::vector<double> inverse_cycles;
  std::vector<double> errors;
  std::printf("\nheat, FED vs the exact DCT semigroup (max abs error)\n");
  std::printf("%8s %8s %12s %12s %12s\n", "cycles", "steps", "t=0.5", "t=1.0", "t=2.0");
  for (const std::int64_t cycles : {10, 20, 40, 80, 160}) {
    rt::FedOptions options;
    options.cycles = cycles;
    const rt::FedSchedule schedule = rt::FedSchedule::build(*b.compiled, *b.process, options);
    double worst = 0;
    std::vector<double> row;
    for (const double t : {0.5, 1.0, 2.0}) {
      const std::vector<double> times(2, t);
      const at::Tensor reference = exact.marginal_mean(x0, times);
      const at::Tensor phi =
          rt::fed_flow(*b.compiled, *b.process, x0.to(at::kFloat).contiguous(), t, schedule);
      row.push_back(max_abs_diff(phi, reference));
      worst = std::max(worst, row.back());
    }
    std::printf("%8lld %8lld %12.3e %12.3e %12.3e\n", static_cast<long long>(cycles),
                static_cast<long long>(schedule.total_steps()), row[0], row[1], row[2]);
    inverse_cycles.push_back(1.0 / static_cast<double>(cycles));
    errors.push_back(worst);
  }
  // FED's polynomial matches e^{Θλ} to first order in Θ (its λ² coefficient
  // is (Θ² − Σ τᵢ²)/2, not Θ²/2): error O(1/cycles) once the cycle means of
  // α1 make each cycle's operator exactly ∫ A dt / Θ. The order is fitted on
  // the three finest schedules (the asymptotic range: the coarse ones have
  // cycles whose Θλ exceeds 1 for the image's modes).
  const std::vector<double> fine_x(inverse_cycles.end() - 3, inverse_cycles.end());
  const std::vector<double> fine_y(errors.end() - 3, errors.end());
  const double order = spdec::test::loglog_slope(fine_x, fine_y);
  std::printf("fitted order in 1/cycles (three finest): %.2f\n", order);
  CHECK(order >= 0.8);
  for (std::size_t i = 1; i < errors.size(); ++i) CHECK(errors[i] < errors[i - 1]);
}

TEST_CASE("fed: Perona-Malik under FED converges to the fine explicit flow (table)",
          "[runtime][fed]") {
  spdec::test::torch_setup();
  Bound b = bind_process(at_28(library_text("perona_malik.spde"), /*untamed=*/true));
  const at::Tensor x0 = images(4);
  const std::vector<double> times{0.5, 1.0, 1.5, 1.8, 2.0};
  // The fine explicit flow: untamed Euler, dt = 2.5e-4 (τ·8·α1 ≤ 0.11: well
  // inside the explicit limit; its own error is O(dt), 4 x below dt = 1e-3).
  const double dt = 2.5e-4;
  std::vector<at::Tensor> fine;
  at::Tensor u = x0;
  double now = 0;
  for (const double t : times) {
    const auto steps = static_cast<std::int64_t>(std::llround((t - now) / dt));
    u = b.compiled->flow_steps(u, {}, now, dt, steps);
    now = t;
    fine.push_back(u);
  }
  std::printf(
      "\nperona_malik 28x28, FED vs explicit Euler dt=2.5e-4 (untamed):\n"
      "max |phi_fed - phi_fine| / sqrt(v(t)), v = int_0^t alpha2^2\n");
  std::printf("%-22s %6s", "flow", "steps");
  for (const double t : times) std::printf("   t=%-7.2f", t);
  std::printf("\n");
  // For scale: the explicit flows at the process's dt = 1e-3 (2000 steps to
  // T), untamed and tamed (the tamed one is what flow_steps computes for the
  // library process).
  std::vector<double> rms_row;
  Bound tamed = bind_process(at_28(library_text("perona_malik.spde"), /*untamed=*/false));
  for (const bool is_tamed : {false, true}) {
    rt::ProcessKernels& kernels = is_tamed ? *tamed.compiled : *b.compiled;
    std::printf("%-22s %6d", is_tamed ? "explicit tamed 1e-3" : "explicit 1e-3", 2000);
    at::Tensor v = x0;
    double from = 0;
    for (std::size_t i = 0; i < times.size(); ++i) {
      const auto steps = static_cast<std::int64_t>(std::llround((times[i] - from) / 1e-3));
      v = kernels.flow_steps(v, {}, from, 1e-3, steps);
      from = times[i];
      const double sigma = std::sqrt(noise_variance(times[i], 0.01, 2.0, 2.0));
      std::printf("   %-9.3e", max_abs_diff(v, fine[i]) / sigma);
      rms_row.push_back((v - fine[i]).square().mean().sqrt().item<double>() / sigma);
    }
    std::printf("\n%-22s %6s", "  (rms)", "");
    for (const double rms : rms_row) std::printf("   %-9.3e", rms);
    std::printf("\n");
    rms_row.clear();
  }
  std::vector<double> inverse_cycles;
  std::vector<double> worst_errors;
  double default_max = -1;
  double default_rms = 0;
  for (const std::int64_t cycles : {10, 20, 40, 80, 160}) {
    rt::FedOptions options;
    options.cycles = cycles;
    const rt::FedSchedule schedule = rt::FedSchedule::build(*b.compiled, *b.process, options);
    const std::string label = "fed " + std::to_string(cycles) + " cycles";
    std::printf("%-22s %6lld", label.c_str(), static_cast<long long>(schedule.total_steps()));
    double worst = 0;
    for (std::size_t i = 0; i < times.size(); ++i) {
      const at::Tensor phi = rt::fed_flow(*b.compiled, *b.process, x0, times[i], schedule);
      const double sigma = std::sqrt(noise_variance(times[i], 0.01, 2.0, 2.0));
      const double error = max_abs_diff(phi, fine[i]) / sigma;
      const double rms = (phi - fine[i]).square().mean().sqrt().item<double>() / sigma;
      std::printf("   %-9.3e", error);
      rms_row.push_back(rms);
      worst = std::max(worst, error);
    }
    std::printf("\n%-22s %6s", "  (rms)", "");
    for (const double rms : rms_row) std::printf("   %-9.3e", rms);
    std::printf("\n");
    inverse_cycles.push_back(1.0 / static_cast<double>(cycles));
    worst_errors.push_back(worst);
    if (cycles == rt::FedOptions{}.cycles) {
      default_max = worst;
      for (const double rms : rms_row) default_rms = std::max(default_rms, rms);
    }
    rms_row.clear();
  }
  const std::vector<double> fine_x(inverse_cycles.end() - 3, inverse_cycles.end());
  const std::vector<double> fine_y(worst_errors.end() - 3, worst_errors.end());
  const double order = spdec::test::loglog_slope(fine_x, fine_y);
  std::printf("fitted order in 1/cycles (worst over t, three finest): %.2f\n", order);
  // Both the FED polynomial and the lagged conductance are first order in
  // the cycle length.
  CHECK(order >= 0.8);
  for (std::size_t i = 1; i < worst_errors.size(); ++i) {
    CHECK(worst_errors[i] < worst_errors[i - 1]);
  }
  // The stated bound for the default schedule (docs/fed.md): Φ_fed within
  // one noise standard deviation of the fine flow at every pixel, and within
  // 0.1 of it in RMS, at t in {0.5, 1, 1.5, 1.8, 2}.
  std::printf("default schedule (%lld cycles): max %.3f sigma, rms %.3f sigma\n",
              static_cast<long long>(rt::FedOptions{}.cycles), default_max, default_rms);
  REQUIRE(default_max >= 0);
  CHECK(default_max <= 1.0);
  CHECK(default_rms <= 0.1);
}

TEST_CASE("fed: a branch of the sweep equals a direct run bitwise", "[runtime][fed]") {
  spdec::test::torch_setup();
  Bound b = bind_process(at_28(library_text("perona_malik.spde"), false));
  const rt::FedSchedule schedule = rt::FedSchedule::build(*b.compiled, *b.process);
  const at::Tensor x0 = images(5);
  const double boundary = schedule.cycles.at(3).t_end;
  const std::vector<double> t{1.3, 0.2, boundary, 2.0, 0.0};
  at::Tensor variance;
  const at::Tensor batch = rt::fed_flow_batch(*b.compiled, *b.process, x0, t, schedule, &variance);
  for (std::size_t i = 0; i < t.size(); ++i) {
    INFO("sample " << i << ", t = " << t[i]);
    const auto n = static_cast<std::int64_t>(i);
    const at::Tensor xi = x0.narrow(0, n, 1).contiguous();
    at::Tensor vi = at::zeros_like(xi);
    const at::Tensor direct = rt::fed_flow(*b.compiled, *b.process, xi, t[i], schedule, &vi);
    CHECK(at::equal(batch.narrow(0, n, 1), direct));
    CHECK(at::equal(variance.narrow(0, n, 1), vi));
  }
  at::Tensor var_s;
  at::Tensor var_t;
  const rt::FedPair pair =
      rt::fed_flow_pair(*b.compiled, *b.process, x0, 0.9, 1.7, schedule, &var_s, &var_t);
  CHECK(at::equal(pair.at_s, rt::fed_flow(*b.compiled, *b.process, x0, 0.9, schedule)));
  CHECK(at::equal(pair.at_t, rt::fed_flow(*b.compiled, *b.process, x0, 1.7, schedule)));
  at::Tensor direct_var = at::zeros_like(x0);
  (void)rt::fed_flow(*b.compiled, *b.process, x0, 1.7, schedule, &direct_var);
  CHECK(at::equal(var_t, direct_var));
  // The variance is Σ τ α2(midpoint)²: close to ∫₀ᵗ α2² (midpoint rule).
  const double exact = noise_variance(1.7, 0.01, 2.0, 2.0);
  CHECK(std::abs(var_t.mean().item<double>() - exact) <= 0.05 * exact);
}

TEST_CASE("fed: every library process builds a schedule and flows to T, finite", "[runtime][fed]") {
  spdec::test::torch_setup();
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(SPDEC_SOURCE_DIR) / "library")) {
    if (entry.path().extension() != ".spde") continue;
    INFO(entry.path().filename().string());
    Bound b = bind_process(library_text(entry.path().filename().string()));
    rt::FedOptions options;
    options.cycles = 10;
    options.probe_points = 33;
    const rt::FedSchedule schedule = rt::FedSchedule::build(*b.compiled, *b.process, options);
    CHECK(!schedule.cycles.empty());
    CHECK(schedule.cycles.back().t_end == schedule.T);
    const std::int64_t channels = b.process->channels == spdec::lang::Channels::coupled ? 3 : 1;
    const at::Tensor x0 = at::rand({2, channels, 12, 12}, f32()) * 2 - 1;
    const at::Tensor u0 = schedule.reads_u0 ? x0 : at::Tensor();
    at::Tensor variance = at::zeros_like(x0);
    const at::Tensor phi =
        rt::fed_flow(*b.compiled, *b.process, x0, schedule.T, schedule, &variance, u0);
    CHECK(at::isfinite(phi).all().item<bool>());
    CHECK(at::isfinite(variance).all().item<bool>());
    CHECK(variance.min().item<double>() >= 0);
  }
}

TEST_CASE("fed: the bound of a coherence-enhancing tensor is its coherent peak, not its flat value",
          "[runtime][fed][tensor]") {
  // coherence_enhancing at t = 0.5 (T = 2, size 32): α1 = 0.5 · 128^(1/4) =
  // 1.68 and α = 0.001 · 1000^(1/4) = 0.0056. A flat frozen state gives
  // D = α1 α I, whose five-point L is 8 α1 α = 0.075; along coherent
  // structure D = α1 diag(α, 1) (axis-aligned), whose stencil has the
  // Gershgorin sum 8 α1 (1 + α)/2 ≈ 4 α1 = 6.8, the largest a D with
  // eigenvalues in [α1 α, α1] gives (LANGUAGE.md §13.6). The probed L must
  // be that peak (the stripes reach it to within the coherence factor
  // exp(−C/(μ1 − μ2)²) ≈ 1), and no more than the isotropic 8 α1.
  spdec::test::torch_setup();
  Bound ced = bind_process(library_text("coherence_enhancing.spde"));
  REQUIRE(ced.program->fed.available);
  const double alpha1 = 0.5 * std::pow(128.0, 0.25);
  const double bound = rt::fed_operator_bound(*ced.compiled, 0.5, 0.5, false);
  WARN("coherence_enhancing at t = 0.5: probed L = " << bound << ", 4 alpha1 = " << 4 * alpha1);
  CHECK(bound >= 0.95 * 4 * alpha1);
  CHECK(bound <= 8 * alpha1);
  // Perona-Malik's is its flat value 8 α1: the stripes, where its
  // conductance is small, do not raise it.
  Bound pm = bind_process(library_text("perona_malik.spde"));
  CHECK(rt::fed_operator_bound(*pm.compiled, 0.5, 0.5, false) == Approx(8 * alpha1).epsilon(1e-5));
  // A FED flow of coherent stripes to T stays bounded by the data (the
  // stencil's weights are not all >= 0 at this anisotropy, so a small
  // overshoot is allowed, but no growth: the cycles are stable).
  rt::FedOptions options;
  options.cycles = 20;
  const rt::FedSchedule schedule = rt::FedSchedule::build(*ced.compiled, *ced.process, options);
  const at::Tensor column = at::arange(16, f32()).view({1, 1, 1, 16}).expand({2, 1, 16, 16});
  const at::Tensor x0 = at::sin(0.9 * column).contiguous();
  const at::Tensor phi = rt::fed_flow(*ced.compiled, *ced.process, x0, schedule.T, schedule);
  CHECK(at::isfinite(phi).all().item<bool>());
  CHECK(phi.abs().max().item<double>() <= 1.1);
}

TEST_CASE("fed: the kappa-cycle order keeps float32 round-off at the rounding level",
          "[runtime][fed]") {
  // A 25-step cycle of the periodic 1D Laplacian (spectrum [-4, 0]) on
  // random data, in float and in double. In the natural order (small steps
  // first) the rounding errors of the early steps are amplified by the
  // product of the large late factors |1 + τᵢλ| ≫ 1 (up to ~1e10 for some
  // modes); the κ order interleaves them so that partial products stay
  // moderate. Measured with this very setup: natural ~1e3, κ ~1e-6.
  const std::vector<double> taus = rt::fed_step_sizes(0.99 * 0.5 * 25 * 26 / 3.0, 0.99 * 0.5);
  REQUIRE(taus.size() == 25);
  std::vector<double> natural = taus;
  std::sort(natural.begin(), natural.end());
  const auto error = [](const std::vector<double>& order) {
    const std::size_t n = 128;
    std::vector<double> u64(n);
    std::vector<float> u32(n);
    std::uint64_t state = 12345;
    for (std::size_t i = 0; i < n; ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      u64[i] = static_cast<double>(state >> 11U) / 9007199254740992.0 * 2.0 - 1.0;
      u32[i] = static_cast<float>(u64[i]);
    }
    for (const double tau : order) {
      std::vector<double> next64(n);
      std::vector<float> next32(n);
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t l = (i + n - 1) % n;
        const std::size_t r = (i + 1) % n;
        next64[i] = u64[i] + tau * (u64[l] + u64[r] - 2.0 * u64[i]);
        next32[i] = u32[i] + static_cast<float>(tau) * (u32[l] + u32[r] - 2.0F * u32[i]);
      }
      u64 = next64;
      u32 = next32;
    }
    double worst = 0;
    for (std::size_t i = 0; i < n; ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(u32[i]) - u64[i]));
    }
    return worst;
  };
  const double kappa_error = error(taus);
  const double natural_error = error(natural);
  INFO("float32 error: kappa order " << kappa_error << ", natural order " << natural_error);
  // |u| ≤ 1 and each step rounds at 6e-8: 1e-5 leaves room for a moderate
  // amplification, and is 1e8 below what the natural order gives.
  CHECK(kappa_error <= 1e-5);
  CHECK(natural_error > 1.0);
}

// The multi-step kernels run sample by sample when the batch has at least
// four samples per thread (codegen/emit_cpp.cpp, kSampleBlocked: every step
// of one sample while it stays in cache), else step by step over all rows.
// Both orders evaluate the same row functions on the same rows and sum the
// taming norm in the same order, so they must agree bit for bit: a batch of
// 16 on two threads (sample by sample) against each sample alone (step by
// step), for the tamed explicit flow, the untamed one, the FED cycle with
// its cached conductances, and their variances.
TEST_CASE("fed: flow_steps and fed_steps sample by sample equal step by step bitwise",
          "[runtime][fed]") {
  spdec::test::torch_setup(20240917, 2);
  for (const bool untamed : {false, true}) {
    for (const char* file : {"perona_malik.spde", "coherence_enhancing.spde"}) {
      INFO(file << (untamed ? ", untamed" : ", tamed"));
      Bound b = bind_process(at_28(library_text(file), untamed));
      const at::Tensor u = images(16);
      const at::Tensor frozen = (u + 0.1 * at::randn_like(u)).contiguous();
      const double length = 0.05;
      const double bound = b.program->fed.available
                               ? rt::fed_operator_bound(*b.compiled, 0.3, 0.3 + length, false)
                               : 0.0;
      const auto flow = [&](const at::Tensor& x, at::Tensor& var) {
        return b.compiled->flow_steps(x, {}, 0.3, 1e-3, 7, &var);
      };
      const auto fed = [&](const at::Tensor& x, const at::Tensor& v, at::Tensor& var) {
        const rt::FedCycle cycle{0.3, 0.3 + length, rt::fed_step_sizes(length, 0.99 * 2.0 / bound)};
        return b.compiled->fed_steps(x, v, {}, cycle, &var);
      };
      at::Tensor var_batch = at::zeros_like(u);
      const at::Tensor batch = flow(u, var_batch);
      at::Tensor fed_var_batch = at::zeros_like(u);
      const at::Tensor fed_batch =
          b.program->fed.available ? fed(u, frozen, fed_var_batch) : at::Tensor();
      for (std::int64_t i = 0; i < u.size(0); ++i) {
        INFO("sample " << i);
        const at::Tensor one = u.narrow(0, i, 1).contiguous();
        at::Tensor var = at::zeros_like(one);
        CHECK(at::equal(flow(one, var), batch.narrow(0, i, 1)));
        CHECK(at::equal(var, var_batch.narrow(0, i, 1)));
        if (!b.program->fed.available) continue;
        at::Tensor fed_var = at::zeros_like(one);
        CHECK(at::equal(fed(one, frozen.narrow(0, i, 1).contiguous(), fed_var),
                        fed_batch.narrow(0, i, 1)));
        CHECK(at::equal(fed_var, fed_var_batch.narrow(0, i, 1)));
      }
    }
  }
}
