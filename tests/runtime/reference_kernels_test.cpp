// The reference kernels (runtime/kernels/reference_kernels.cpp) against oracles that
// do not depend on the generated code: div Σ against the full autograd
// Jacobian and against calculus, the noise against the Philox stream
// (codegen/rng/philox.h), the step kernels against the formulas of
// codegen/kernels.hpp composed from drift/diffusion/div_sigma, gradients,
// and every library process through every kernel.
//
// Tolerances are argued next to each check.
#include "runtime/kernels/reference_kernels.hpp"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "codegen/rng/philox.h"
#include "reference_support.hpp"

namespace {

using spdec::runtime::NoiseSource;
using spdec::test::f32;
using spdec::test::f64;
using spdec::test::Ghost;
using spdec::test::max_abs;
using spdec::test::max_abs_diff;
using spdec::test::reference_from;

std::string read_library(const std::string& name) {
  std::ifstream in(std::filesystem::path(SPDEC_SOURCE_DIR) / "library" / name);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// A library process with its `boundary` statement replaced.
spdec::test::Reference library_with_boundary(const std::string& name, const std::string& boundary) {
  std::string text = read_library(name);
  const auto at = text.find("\nboundary ");
  REQUIRE(at != std::string::npos);
  const auto end = text.find('\n', at + 1);
  text.replace(at + 1, end - at - 1, boundary);
  return spdec::test::reference_of(spdec::test::check_process(text));
}

/// The diagonal of the Jacobian of the diffusion, one backward pass per
/// element (the whole Jacobian), and the Jacobian itself [n, n].
struct Jacobian {
  at::Tensor full;
  at::Tensor diagonal;
};
Jacobian full_jacobian(spdec::runtime::ProcessKernels& kernels, const at::Tensor& u, double t) {
  const at::Tensor x = u.detach().clone().requires_grad_(true);
  const at::Tensor g = kernels.diffusion(x, {}, t).reshape({-1});
  const std::int64_t n = g.numel();
  std::vector<at::Tensor> rows;
  for (std::int64_t i = 0; i < n && !g.requires_grad(); ++i)
    rows.push_back(at::zeros({n}, u.options()));
  for (std::int64_t i = 0; i < n && g.requires_grad(); ++i) {
    const auto grads = torch::autograd::grad({g[i]}, {x}, {}, /*retain_graph=*/true,
                                             /*create_graph=*/false, /*allow_unused=*/true);
    rows.push_back(grads[0].defined() ? grads[0].reshape({-1}) : at::zeros({n}, u.options()));
  }
  Jacobian j;
  j.full = at::stack(rows);
  j.diagonal = j.full.diagonal().reshape(u.sizes());
  return j;
}

/// True when J[i, j] = 0 for all pixels i, j farther apart than the reach
/// (on the torus when periodic) or in different samples.
bool outside_reach_is_zero(const at::Tensor& jacobian, at::IntArrayRef shape,
                           spdec::runtime::reference::Reach reach, bool periodic) {
  const std::int64_t c = shape[1];
  const std::int64_t h = shape[2];
  const std::int64_t w = shape[3];
  const auto distance = [&](std::int64_t a, std::int64_t b, std::int64_t size) {
    const std::int64_t d = std::abs(a - b);
    return periodic ? std::min(d, size - d) : d;
  };
  const auto acc = jacobian.accessor<double, 2>();
  for (std::int64_t i = 0; i < jacobian.size(0); ++i) {
    for (std::int64_t j = 0; j < jacobian.size(1); ++j) {
      const bool same_sample = i / (c * h * w) == j / (c * h * w);
      const bool near =
          distance(i % w, j % w, w) <= reach.x && distance((i / w) % h, (j / w) % h, h) <= reach.y;
      if ((!same_sample || !near) && acc[i][j] != 0.0) return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("reference: colour classes per axis") {
  using spdec::runtime::reference::colours;
  CHECK(colours(6, 1, false) == 2);
  CHECK(colours(5, 2, false) == 3);
  CHECK(colours(3, 2, false) == 3);
  CHECK(colours(2, 4, false) == 2);
  CHECK(colours(6, 1, true) == 2);
  CHECK(colours(5, 1, true) == 5);  // no divisor of 5 in [2, 5): every column its own class
  CHECK(colours(6, 2, true) == 3);
  CHECK(colours(8, 2, true) == 4);
  CHECK(colours(7, 0, true) == 1);
}

TEST_CASE("reference: div_sigma equals 2 g q times the diagonal of the full Jacobian") {
  spdec::test::torch_setup();
  struct Source {
    std::string label;
    std::function<spdec::test::Reference(const std::string& boundary)> make;
    std::int64_t channels;
  };
  const auto library = [](const std::string& file) {
    return [file](const std::string& boundary) { return library_with_boundary(file, boundary); };
  };
  const auto inline_process = [](const std::string& statements) {
    return [statements](const std::string& boundary) {
      return reference_from(statements + "\n" + boundary);
    };
  };
  const std::vector<Source> sources{
      {"fig1_anisotropic_drift_anisotropic_noise",
       library("fig1_anisotropic_drift_anisotropic_noise.spde"), 1},
      {"fig1_isotropic_drift_anisotropic_noise",
       library("fig1_isotropic_drift_anisotropic_noise.spde"), 1},
      {"fig1_anisotropic_drift_no_noise", library("fig1_anisotropic_drift_no_noise.spde"), 1},
      {"perona_malik_sde", library("perona_malik_sde.spde"), 2},
      {"g of u itself", inline_process("drift = 0\ndiffusion = 1 + 0.1 * u^2"), 2},
      {"g of a nested stencil (reach 2)",
       inline_process("drift = lap(u)\ndiffusion = 1 / sqrt(1 + norm2(grad(lap(u))))"), 1},
      {"g of a long shift (reach 3) and u",
       inline_process("drift = 0\ndiffusion = 1 + 0.1 * shift(u, 3, 0)^2 + 0.2 * sigmoid(u)"), 1},
      {"coupled channels",
       inline_process("drift = 0\ndiffusion = 1 / sqrt(1 + norm2(grad(u)))\nchannels coupled"), 3},
      {"coupled channels and u0",
       inline_process("drift = 0\ndiffusion = u0 + u * norm(grad(u))\nchannels coupled"), 2},
  };
  const std::int64_t h = 5;
  const std::int64_t w = 6;
  const at::Tensor qdiag = at::rand({h, w}, f64()) + 0.5;
  // d vanishes identically where g reads u only through central differences
  // that never reach the pixel itself (periodic, Dirichlet, the interior):
  // the symbolic pass proves the same. Count the cases where it does not.
  int nontrivial = 0;
  for (const Source& source : sources) {
    for (const Ghost ghost : {Ghost::neumann, Ghost::periodic, Ghost::dirichlet}) {
      INFO(source.label << ", " << spdec::test::name(ghost));
      const auto r = source.make(spdec::test::boundary_statement(ghost, 0.3));
      const double t = 0.125 * r.process->time.T;
      const at::Tensor u = at::rand({2, source.channels, h, w}, f64());
      const at::Tensor u0 = at::rand({2, source.channels, h, w}, f64());
      const bool reads_u0 = r.program->reads_u0;

      // The colouring's premise: no dependence beyond the reach.
      const auto reach =
          spdec::runtime::reference::reach(r.program->graph, r.program->diffusion.general);
      // (full_jacobian passes no u0; processes reading it are checked below.)
      if (!reads_u0) {
        const Jacobian j = full_jacobian(*r.kernels, u, t);
        CHECK(outside_reach_is_zero(j.full, u.sizes(), reach, ghost == Ghost::periodic));
        const at::Tensor g = r.kernels->diffusion(u, {}, t);
        const at::Tensor expected = 2 * g * j.diagonal * qdiag;
        // float64: the same products, the colouring only adds exact zeros.
        const at::Tensor got64 = r.kernels->div_sigma(u, {}, t, qdiag);
        nontrivial += max_abs(expected) > 1e-4 ? 1 : 0;
        CHECK(max_abs_diff(got64, expected) <= 1e-12 * max_abs(expected) + 1e-300);
        // float32: each entry a product of a few float roundings of g, d, q
        // and d's own backward pass (a few dozen operations): 1e-5 relative.
        const at::Tensor got32 =
            r.kernels->div_sigma(u.to(at::kFloat), {}, t, qdiag.to(at::kFloat));
        CHECK(max_abs_diff(got32, expected) <= 1e-5 * max_abs(expected) + 1e-30);
        // No qdiag means q = 1.
        CHECK(max_abs_diff(r.kernels->div_sigma(u, {}, t, {}), 2 * g * j.diagonal) <=
              1e-12 * max_abs(expected) + 1e-300);
      } else {
        // With u0: the Jacobian of g(·, u0) by one backward pass per element.
        const at::Tensor x = u.detach().clone().requires_grad_(true);
        const at::Tensor g = r.kernels->diffusion(x, u0, t).reshape({-1});
        std::vector<double> diagonal;
        for (std::int64_t i = 0; i < g.numel(); ++i) {
          const auto grads = torch::autograd::grad({g[i]}, {x}, {}, true);
          diagonal.push_back(grads[0].reshape({-1})[i].item<double>());
        }
        const at::Tensor d = at::tensor(diagonal, f64()).view(u.sizes());
        const at::Tensor expected = 2 * g.detach().view(u.sizes()) * d * qdiag;
        CHECK(max_abs_diff(r.kernels->div_sigma(u, u0, t, qdiag), expected) <=
              1e-12 * max_abs(expected));
        nontrivial += max_abs(expected) > 1e-4 ? 1 : 0;
      }
    }
  }
  CHECK(nontrivial >= 12);
}

TEST_CASE("reference: div_sigma of g = 1 + 0.1 u^2 is 0.4 u (1 + 0.1 u^2) q and has gradients") {
  spdec::test::torch_setup();
  const auto r = reference_from("drift = 0\ndiffusion = 1 + 0.1 * u^2\nboundary periodic");
  const at::Tensor u = at::randn({3, 2, 4, 5}, f64());
  const at::Tensor q = at::rand({4, 5}, f64()) + 0.5;
  const at::Tensor expected = 0.4 * u * (1 + 0.1 * u * u) * q;
  CHECK(max_abs_diff(r.kernels->div_sigma(u, {}, 0.5, q), expected) < 1e-13);
  // float32: ~5 roundings of values ≤ ~10.
  CHECK(max_abs_diff(r.kernels->div_sigma(u.to(at::kFloat), {}, 0.5, q.to(at::kFloat)), expected) <
        1e-5 * std::max(1.0, max_abs(expected)));

  // Differentiable: d/du of Σ div Σ is q (0.4 + 0.12 u²) (double backward).
  const at::Tensor x = u.clone().requires_grad_(true);
  const at::Tensor total = r.kernels->div_sigma(x, {}, 0.5, q).sum();
  REQUIRE(total.requires_grad());
  const auto grads = torch::autograd::grad({total}, {x});
  CHECK(max_abs_diff(grads[0], q * (0.4 + 0.12 * u * u)) < 1e-13);

  // Under NoGradGuard and InferenceMode the value is the same and carries no graph.
  {
    const at::NoGradGuard no_grad;
    const at::Tensor got = r.kernels->div_sigma(x, {}, 0.5, q);
    CHECK(!got.requires_grad());
    CHECK(max_abs_diff(got, expected) < 1e-13);
  }
  {
    const c10::InferenceMode inference;
    const at::Tensor v = u.clone();
    const at::Tensor got = r.kernels->div_sigma(v, {}, 0.5, q);
    CHECK(max_abs_diff(got, expected) < 1e-13);
    const at::Tensor z = at::zeros_like(v);
    const at::Tensor step = r.kernels->reverse_step(v, {}, 0.5, 1e-3, z, q, NoiseSource{});
    CHECK(spdec::test::all_finite(step));
  }
}

TEST_CASE("reference: noise is the Philox stream per sample independent of the batch") {
  spdec::test::torch_setup();
  const auto r = reference_from("drift = 0\ndiffusion = 2");
  const std::int64_t n = 3;
  const std::int64_t c = 2;
  const std::int64_t h = 5;
  const std::int64_t w = 7;  // C·H·W = 70: the last block of four is partial
  NoiseSource source;
  source.seed = 0x1234'5678'9abcULL;
  source.step = 17;
  const at::Tensor xi = r.kernels->noise({n, c, h, w}, source, at::kCPU);
  REQUIRE(xi.scalar_type() == at::kFloat);
  REQUIRE(xi.sizes() == at::IntArrayRef({n, c, h, w}));
  const auto acc = xi.accessor<float, 4>();
  bool equal = true;
  for (std::int64_t s = 0; s < n; ++s) {
    for (std::int64_t flat = 0; flat < c * h * w; ++flat) {
      float z[4];
      spdec_gaussian4(source.seed, static_cast<unsigned long long>(s), source.step,
                      static_cast<unsigned int>(flat / 4), z);
      const std::int64_t x = flat % w;
      const std::int64_t y = (flat / w) % h;
      const std::int64_t ch = flat / (w * h);
      equal = equal && acc[s][ch][y][x] == z[flat % 4];  // bit for bit
    }
  }
  CHECK(equal);

  // Sample ids: sample 5 is the same in any batch.
  NoiseSource ids = source;
  ids.sample_ids = at::tensor(std::vector<std::int64_t>{5, 2, 9});
  const at::Tensor batch = r.kernels->noise({3, c, h, w}, ids, at::kCPU);
  ids.sample_ids = at::tensor(std::vector<std::int64_t>{5});
  const at::Tensor alone = r.kernels->noise({1, c, h, w}, ids, at::kCPU);
  const at::Tensor implicit = r.kernels->noise({10, c, h, w}, source, at::kCPU);
  CHECK(max_abs_diff(batch[0], alone[0]) == 0);
  CHECK(max_abs_diff(batch[0], implicit[5]) == 0);
  CHECK(max_abs_diff(batch[2], implicit[9]) == 0);
  CHECK(max_abs_diff(implicit.narrow(0, 0, 3), xi) == 0);
  // Another step or seed is another draw.
  NoiseSource later = source;
  later.step = 18;
  CHECK(max_abs_diff(r.kernels->noise({n, c, h, w}, later, at::kCPU), xi) > 0.1);

  // forward_step draws the same ζ: u + g √Δt ξ with b = 0, g = 2.
  const at::Tensor u = at::rand({n, c, h, w}, f32());
  const double dt = 1e-3;
  const at::Tensor stepped = r.kernels->forward_step(u, {}, 0.5, dt, source);
  // Two float roundings of values ≤ ~2: 1e-6.
  CHECK(max_abs_diff(stepped, u + 2 * std::sqrt(dt) * xi) < 1e-6);
}

TEST_CASE("reference: step kernels follow the formulas of codegen/kernels.hpp") {
  spdec::test::torch_setup();
  const std::string body =
      "drift = -t * u + 0.1 * lap(u) + 2\n"
      "diffusion = 0.5 + 0.1 * u^2 * t\n";
  const std::int64_t n = 2;
  const at::Tensor u = at::rand({n, 2, 5, 6}, f64());
  const at::Tensor zeta = at::randn_like(u);
  const at::Tensor score = at::randn_like(u);
  const at::Tensor q = at::rand({5, 6}, f64()) + 0.5;
  const double t = 0.4;
  const double dt = 0.01;
  for (const char* time :
       {"time T = 1, dt = 0.01", "time T = 1, dt = 0.01, taming = 1",
        "time T = 1, dt = 0.01, taming = 2.5", "time T = 1, dt = 0.01, taming = 0"}) {
    for (const char* noise : {"", "noise correlation_length = 2"}) {
      INFO(time << " " << noise);
      const auto r = reference_from(body + time + "\n" + noise);
      const bool identity = r.program->noise_identity;
      REQUIRE(identity == (std::string(noise).empty()));
      auto& k = *r.kernels;
      // The taming scale, per sample: Δt / (1 + Δt ‖b‖^γ) (LANGUAGE.md §14).
      const auto scale_of = [&](const at::Tensor& b) {
        if (!r.program->taming) return at::full({n, 1, 1, 1}, dt, f64());
        const at::Tensor norm = b.square().sum({1, 2, 3}, true).sqrt();
        return dt / (1 + dt * norm.pow(*r.program->taming));
      };
      const at::Tensor b = k.drift(u, {}, t);
      const at::Tensor g = k.diffusion(u, {}, t);
      const at::Tensor scale = scale_of(b);

      NoiseSource given;
      given.correlated = zeta;
      const at::Tensor forward = k.forward_step(u, {}, t, dt, given);
      CHECK(max_abs_diff(forward, u + scale * b + g * std::sqrt(dt) * zeta) < 1e-13);

      // Σ s = g² s with Q = I, else g · score_term (the runtime passes Q(g s)).
      const at::Tensor div_sigma = k.div_sigma(u, {}, t, q);
      const at::Tensor pull = div_sigma + (identity ? g * g * score : g * score);
      const at::Tensor reverse = k.reverse_step(u, {}, t, dt, score, q, given);
      CHECK(max_abs_diff(reverse, u - scale * b + dt * pull + g * std::sqrt(dt) * zeta) < 1e-13);
      const at::Tensor ode = k.ode_velocity(u, {}, t, dt, score, q);
      CHECK(max_abs_diff(ode, (scale / dt) * b - 0.5 * pull) < 1e-12);

      // flow_steps: step k at t + k Δt, variance += Δt g² before each step.
      at::Tensor variance = at::full_like(u, 0.25);
      const at::Tensor flowed = k.flow_steps(u, {}, t, dt, 3, &variance);
      at::Tensor state = u;
      at::Tensor expected_variance = at::full_like(u, 0.25);
      for (int step = 0; step < 3; ++step) {
        const double tk = t + step * dt;
        const at::Tensor bk = k.drift(state, {}, tk);
        const at::Tensor gk = k.diffusion(state, {}, tk);
        expected_variance = expected_variance + dt * gk * gk;
        state = state + scale_of(bk) * bk;
      }
      CHECK(max_abs_diff(flowed, state) < 1e-13);
      CHECK(max_abs_diff(variance, expected_variance) < 1e-13);
      CHECK(max_abs_diff(k.flow_steps(u, {}, t, dt, 0), u) == 0);

      if (!identity) {
        // Correlated noise must be given.
        CHECK_THROWS_AS(k.forward_step(u, {}, t, dt, NoiseSource{}), std::invalid_argument);
      }
    }
  }
}

TEST_CASE("reference: taming at a zero drift and gradients through every step kernel") {
  spdec::test::torch_setup();
  const auto r = reference_from(
      "drift = div(1 / (1 + norm2(grad(u))) * grad(u))\n"
      "diffusion = 0.1 / sqrt(1 + norm2(grad(u)))\n"
      "time T = 1, dt = 0.01, taming = 1");
  auto& k = *r.kernels;
  // A flat state: b = 0, ‖b‖ = 0, the scale is Δt and the gradient is finite.
  const at::Tensor flat = at::full({1, 1, 4, 4}, 0.5, f32()).requires_grad_(true);
  const at::Tensor z = at::zeros({1, 1, 4, 4}, f32());
  NoiseSource given;
  given.correlated = z;
  const at::Tensor stepped = k.forward_step(flat, {}, 0.5, 0.01, given);
  CHECK(max_abs_diff(stepped, flat) == 0);
  const auto flat_grads = torch::autograd::grad({stepped.sum()}, {flat});
  CHECK(spdec::test::all_finite(flat_grads[0]));

  const at::Tensor u = at::rand({2, 1, 5, 6}, f32()).requires_grad_(true);
  const at::Tensor score = at::randn({2, 1, 5, 6}, f32());
  NoiseSource white;
  white.seed = 3;
  at::Tensor variance = at::zeros({2, 1, 5, 6}, f32());
  const at::Tensor flowed = k.flow_steps(u, {}, 0.5, 0.01, 2, &variance);
  REQUIRE(variance.requires_grad());
  const at::Tensor loss =
      k.drift(u, {}, 0.5).sum() + k.diffusion(u, {}, 0.5).sum() +
      k.div_sigma(u, {}, 0.5, {}).sum() + k.forward_step(u, {}, 0.5, 0.01, white).sum() +
      flowed.sum() + variance.sum() + k.reverse_step(u, {}, 0.5, 0.01, score, {}, white).sum() +
      k.ode_velocity(u, {}, 0.5, 0.01, score, {}).sum();
  const auto grads = torch::autograd::grad({loss}, {u});
  CHECK(spdec::test::all_finite(grads[0]));
  CHECK(max_abs(grads[0]) > 0);
}

TEST_CASE("reference: every library process runs through every kernel") {
  spdec::test::torch_setup();
  const std::vector<std::string> files{
      "blurring.spde",
      "edge_preserving.spde",
      "fig1_anisotropic_drift_anisotropic_noise.spde",
      "fig1_anisotropic_drift_no_noise.spde",
      "fig1_isotropic_drift_anisotropic_noise.spde",
      "hdm.spde",
      "heat.spde",
      "ihdm.spde",
      "perona_malik.spde",
      "perona_malik_sde.spde",
      "two_subspace.spde",
      "ve.spde",
      "vp.spde",
  };
  const std::int64_t n = 2;
  const std::int64_t c = 3;
  const std::int64_t h = 8;
  const std::int64_t w = 7;
  for (const std::string& file : files) {
    INFO(file);
    const auto r = spdec::test::reference_of(spdec::test::check_library_file("library/" + file));
    auto& k = *r.kernels;
    CHECK(k.backend() == "reference");
    const at::Tensor u = at::rand({n, c, h, w}, f32());
    const at::Tensor u0 = at::rand({n, c, h, w}, f32());
    const at::Tensor score = at::randn({n, c, h, w}, f32());
    const at::Tensor qdiag = at::rand({h, w}, f32()) + 0.5;
    const double t = 0.5 * (r.process->time.t0 + r.process->time.T);
    const double dt = r.process->time.dt;
    NoiseSource source;
    source.seed = 11;
    source.step = 2;
    if (!r.program->noise_identity) source.correlated = at::randn({n, c, h, w}, f32());

    const auto check_state = [&](const at::Tensor& e) {
      CHECK(e.scalar_type() == at::kFloat);
      CHECK(e.sizes() == u.sizes());
      CHECK(e.is_contiguous());
      CHECK(spdec::test::all_finite(e));
    };
    check_state(k.drift(u, u0, t));
    check_state(k.diffusion(u, u0, t));
    check_state(k.div_sigma(u, u0, t, {}));
    check_state(k.div_sigma(u, u0, t, qdiag));
    check_state(k.noise(u.sizes(), source, u.device()));
    check_state(k.forward_step(u, u0, t, dt, source));
    at::Tensor variance = at::zeros_like(u);
    check_state(k.flow_steps(u, u0, t, dt, 3, &variance));
    check_state(variance);
    CHECK((variance >= 0).all().item<bool>());
    check_state(k.reverse_step(u, u0, t, dt, score, qdiag, source));
    check_state(k.ode_velocity(u, u0, t, dt, score, qdiag));
  }
}

TEST_CASE("reference: the kernels on CUDA give the CPU's values") {
  spdec::test::torch_setup();
  if (!at::hasCUDA()) {
    WARN("no CUDA device: nothing to compare");
    return;
  }
  const at::Device cuda(at::kCUDA, 0);
  const std::vector<std::string> sources{
      read_library("fig1_anisotropic_drift_anisotropic_noise.spde"),
      read_library("edge_preserving.spde"),
      "process test\n"
      "drift = lap(lap(u)) + shift(u, -3, 2) + div(u * grad(u))\n"
      "diffusion = 1 / sqrt(1 + norm2(grad(u))) + 0.1 * u^2\n"
      "channels coupled\nboundary dirichlet 0.5\n"
      "time T = 1, dt = 0.01, taming = 1\n",
  };
  for (const std::string& text : sources) {
    const auto r = spdec::test::reference_of(spdec::test::check_process(text));
    INFO(r.process->name);
    auto& k = *r.kernels;
    const at::Tensor u = at::rand({2, 3, 9, 8}, f32());
    const at::Tensor u0 = at::rand({2, 3, 9, 8}, f32());
    const at::Tensor score = at::randn({2, 3, 9, 8}, f32());
    const at::Tensor q = at::rand({9, 8}, f32()) + 0.5;
    const double t = 0.5 * r.process->time.T;
    const double dt = r.process->time.dt;
    NoiseSource source;
    source.seed = 5;
    source.step = 3;
    const auto close = [](const at::Tensor& on_cuda, const at::Tensor& on_cpu) {
      CHECK(on_cuda.device().is_cuda());
      // Different libm (CUDA's expf/sqrtf/powf within 2 ulp) and summation
      // orders: 1e-5 relative to the largest value.
      CHECK(max_abs_diff(on_cuda.cpu(), on_cpu) <= 1e-5 * std::max(1.0, max_abs(on_cpu)));
    };
    close(k.drift(u.to(cuda), u0.to(cuda), t), k.drift(u, u0, t));
    close(k.diffusion(u.to(cuda), u0.to(cuda), t), k.diffusion(u, u0, t));
    close(k.div_sigma(u.to(cuda), u0.to(cuda), t, q.to(cuda)), k.div_sigma(u, u0, t, q));
    // The noise is the same stream, bit for bit.
    CHECK(max_abs_diff(k.noise(u.sizes(), source, cuda).cpu(),
                       k.noise(u.sizes(), source, at::kCPU)) == 0);
    close(k.forward_step(u.to(cuda), u0.to(cuda), t, dt, source),
          k.forward_step(u, u0, t, dt, source));
    close(k.reverse_step(u.to(cuda), u0.to(cuda), t, dt, score.to(cuda), q.to(cuda), source),
          k.reverse_step(u, u0, t, dt, score, q, source));
    close(k.ode_velocity(u.to(cuda), u0.to(cuda), t, dt, score.to(cuda), q.to(cuda)),
          k.ode_velocity(u, u0, t, dt, score, q));
    at::Tensor variance_cuda = at::zeros({2, 3, 9, 8}, f32().device(cuda));
    at::Tensor variance_cpu = at::zeros({2, 3, 9, 8}, f32());
    close(k.flow_steps(u.to(cuda), u0.to(cuda), t, dt, 3, &variance_cuda),
          k.flow_steps(u, u0, t, dt, 3, &variance_cpu));
    close(variance_cuda, variance_cpu);
  }
}

TEST_CASE("reference: bad inputs throw std::invalid_argument") {
  spdec::test::torch_setup();
  const auto r = reference_from("drift = u0 - u\ndiffusion = 1 + u^2");
  auto& k = *r.kernels;
  const at::Tensor u = at::zeros({1, 1, 3, 4}, f32());
  CHECK_THROWS_AS(k.drift(at::zeros({3, 4}, f32()), u, 0.5), std::invalid_argument);
  CHECK_THROWS_AS(k.drift(at::zeros({1, 1, 3, 4}, at::TensorOptions().dtype(at::kLong)), u, 0.5),
                  std::invalid_argument);
  CHECK_THROWS_AS(k.drift(u, {}, 0.5), std::invalid_argument);  // u0 is read
  CHECK_THROWS_AS(k.drift(u, at::zeros({1, 1, 4, 3}, f32()), 0.5), std::invalid_argument);
  CHECK_THROWS_AS(k.div_sigma(u, u, 0.5, at::ones({4, 3}, f32())), std::invalid_argument);
  CHECK_THROWS_AS(k.ode_velocity(u, u, 0.5, 0.01, at::zeros({1, 1, 3, 3}, f32()), {}),
                  std::invalid_argument);
  CHECK_THROWS_AS(k.noise({2, 3}, NoiseSource{}, at::kCPU), std::invalid_argument);
  at::Tensor wrong = at::zeros({1, 1, 3, 3}, f32());
  CHECK_THROWS_AS(k.flow_steps(u, u, 0.5, 0.01, 2, &wrong), std::invalid_argument);
}
