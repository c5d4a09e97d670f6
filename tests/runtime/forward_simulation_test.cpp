// Forward simulation: backends agree, snapshots land on their times, the
// noise has the variance the chain defines, and the statistics mean what
// they say.
#include "runtime/process/forward_simulation.hpp"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <string>

#include "codegen/pipeline.hpp"
#include "runtime/kernels/process_kernels.hpp"
#include "runtime/spectral/noise_operator.hpp"
#include "tests/runtime/test_support.hpp"

namespace {

using spdec::runtime::ForwardOptions;
using spdec::runtime::simulate_forward;

struct Bound {
  std::shared_ptr<const spdec::lang::Process> process;
  std::shared_ptr<const spdec::codegen::StencilProgram> program;
  std::unique_ptr<spdec::runtime::NoiseOperator> noise;
};

Bound bind(const std::string& library_file, std::int64_t H, std::int64_t W) {
  Bound b;
  b.process = std::make_shared<const spdec::lang::Process>(
      spdec::test::check_library_file("library/" + library_file));
  b.program = std::make_shared<const spdec::codegen::StencilProgram>(
      spdec::codegen::build_program(*b.process));
  b.noise = std::make_unique<spdec::runtime::NoiseOperator>(*b.process, H, W);
  return b;
}

at::Tensor images(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  at::Tensor x = at::full({n, c, h, w}, -0.8, spdec::test::f32());
  x.narrow(3, w / 3, w / 3).fill_(0.9);  // a bright bar: edges to keep or lose
  return (x + 0.05 * at::randn_like(x)).contiguous();
}

}  // namespace

TEST_CASE("forward simulation: compiled and reference backends agree to 1e-5", "[forward]") {
  // The same IR, the same Philox stream, float32 both: per step they differ
  // by a few ulp (see differential_test.cpp); the processes contract, so 50
  // steps keep the difference near that level, far below 1e-5.
  spdec::test::torch_setup(3);
  for (const char* file :
       {"perona_malik.spde", "perona_malik_sde.spde", "heat.spde",
        "fig1_anisotropic_drift_anisotropic_noise.spde", "edge_preserving.spde"}) {
    INFO(file);
    Bound b = bind(file, 12, 12);
    const auto compiled = spdec::runtime::make_compiled_kernels(b.process, b.program, at::kCPU);
    const auto reference = spdec::runtime::make_reference_kernels(b.process, b.program);
    const at::Tensor x0 = images(2, 1, 12, 12);
    ForwardOptions options;
    options.times = {0.0, 0.01, 0.05 * b.process->time.T};
    options.seed = 99;
    const auto a = simulate_forward(*compiled, *b.process, *b.noise, x0, options);
    const auto r = simulate_forward(*reference, *b.process, *b.noise, x0, options);
    REQUIRE(a.states.sizes() == at::IntArrayRef({3, 2, 1, 12, 12}));
    const double scale = r.states.abs().max().item<double>();
    CHECK(spdec::test::max_abs_diff(a.states, r.states) <= 1e-5 * std::max(1.0, scale));
  }
}

TEST_CASE("forward simulation: a snapshot lands on its time whatever comes before", "[forward]") {
  // SDE semantics: [0.0125] and [0.01, 0.0125] take the same steps (twelve of
  // Δt then one of Δt/2) with the same Philox step indices.
  spdec::test::torch_setup(4);
  Bound b = bind("perona_malik_sde.spde", 10, 9);
  const auto kernels = spdec::runtime::make_reference_kernels(b.process, b.program);
  const at::Tensor x0 = images(2, 1, 10, 9);
  ForwardOptions one;
  one.times = {0.0125};
  ForwardOptions two = one;
  two.times = {0.01, 0.0125};
  const auto a = simulate_forward(*kernels, *b.process, *b.noise, x0, one);
  const auto c = simulate_forward(*kernels, *b.process, *b.noise, x0, two);
  CHECK(spdec::test::max_abs_diff(a.states[0], c.states[1]) == 0.0);
  CHECK(a.stats[0].t == 0.0125);
}

TEST_CASE("forward simulation: zero drift accumulates the chain's noise variance", "[forward]") {
  // ve.spde has b = 0 and additive white noise g(t): X_t − x₀ is a sum of
  // independent N(0, Δt g(t_k)²), so its variance is Σ_k Δt g(t_k)². The
  // sample variance of n = 64·1·16·16 values has relative std √(2/n) ≈ 0.0088;
  // 5σ: 4.4 %.
  spdec::test::torch_setup(5);
  Bound b = bind("ve.spde", 16, 16);
  const auto kernels = spdec::runtime::make_reference_kernels(b.process, b.program);
  const at::Tensor x0 = at::zeros({64, 1, 16, 16}, spdec::test::f32());
  ForwardOptions options;
  options.times = {0.3};
  for (const char* semantics : {"sde", "decoupled"}) {
    INFO(semantics);
    spdec::lang::Process process = *b.process;
    process.semantics = std::string(semantics) == "sde" ? spdec::lang::Semantics::sde
                                                        : spdec::lang::Semantics::decoupled;
    const auto result = simulate_forward(*kernels, process, *b.noise, x0, options);
    double expected = 0;
    const double dt = process.time.dt;
    for (int k = 0; k < 300; ++k) {
      const at::Tensor g = kernels->diffusion(x0.narrow(0, 0, 1), x0.narrow(0, 0, 1), k * dt);
      expected += dt * std::pow(g.mean().item<double>(), 2);
    }
    const double measured = result.states[0].to(at::kDouble).var().item<double>();
    CHECK(std::abs(measured / expected - 1) < 0.044);
  }
}

TEST_CASE("forward statistics: t = 0 explains everything, heat erases edges", "[forward]") {
  spdec::test::torch_setup(6);
  Bound b = bind("heat.spde", 16, 16);
  const auto kernels = spdec::runtime::make_reference_kernels(b.process, b.program);
  const at::Tensor x0 = images(4, 1, 16, 16);
  ForwardOptions options;
  options.times = {0.0, 0.1 * b.process->time.T, b.process->time.T};
  const auto result = simulate_forward(*kernels, *b.process, *b.noise, x0, options);
  CHECK(result.stats[0].explained == Approx(1.0).epsilon(1e-12));
  CHECK(result.stats[2].explained < result.stats[0].explained);
  CHECK(result.stats[1].edge_energy < result.stats[0].edge_energy);
}

TEST_CASE("forward simulation refuses bad times", "[forward]") {
  spdec::test::torch_setup();
  Bound b = bind("heat.spde", 8, 8);
  const auto kernels = spdec::runtime::make_reference_kernels(b.process, b.program);
  const at::Tensor x0 = images(1, 1, 8, 8);
  ForwardOptions options;
  options.times = {0.5, 0.1};
  CHECK_THROWS_WITH(simulate_forward(*kernels, *b.process, *b.noise, x0, options),
                    Catch::Contains("ascending"));
  options.times = {2 * b.process->time.T};
  CHECK_THROWS_WITH(simulate_forward(*kernels, *b.process, *b.noise, x0, options),
                    Catch::Contains("outside"));
}
