// Differential tests: every generated CPU kernel against the reference
// evaluator, for every library process, under every boundary kind, on states
// with sharp edges, constant regions and noise.
//
// Tolerance |compiled − reference| ≤ 1e-6 + 1e-5 |reference| (the issue's):
// both evaluate the same IR in float32 in the same operation order, so they
// differ only by the last-ulp differences of libm (expf, powf, ... ~1 ulp =
// 6e-8 relative) and by the summation order of the taming norm (double on
// the CPU, float in LibTorch: ~1e-7 relative), compounded through a few
// dozen operations: far below 1e-5. A tensor flux adds 1e-6 · max |reference|
// to the kernels that evaluate the drift (check_close says why).
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "codegen/pipeline.hpp"
#include "runtime/kernels/fed_flow.hpp"
#include "runtime/kernels/process_kernels.hpp"
#include "runtime/spectral/noise_operator.hpp"
#include "tests/runtime/test_support.hpp"

namespace {

using spdec::runtime::NoiseSource;
using spdec::runtime::ProcessKernels;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The library file with its boundary statement replaced.
std::string with_boundary(const std::string& text, const std::string& boundary) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("boundary", 0) == 0) continue;
    out += line + "\n";
  }
  return out + "boundary " + boundary + "\n";
}

/// Edges, a constant region and noise: the three regimes of a conductance.
at::Tensor test_state(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  at::Tensor u = at::randn({n, c, h, w}, spdec::test::f32()) * 0.3;
  u.narrow(3, 0, w / 3).fill_(-0.7);                            // constant block
  u.narrow(3, w / 2, w - w / 2).narrow(2, 0, h / 2).add_(1.5);  // a step edge
  return u.contiguous();
}

/// `cancellation`: for a tensor flux, the share of max |reference| added to
/// the tolerance. Its stencil sums eight terms w_d Δu_d that can be far larger
/// than their sum (at an edge at 45° the weight a − |b| is the difference of
/// two coefficients of order α1), so one ulp of libm's last bit in a term
/// (expf, sqrtf: ~6e-8 of the term) is not one ulp of the result: the
/// difference is bounded by a few ulps of the largest term, which is of the
/// order of the largest drift value. Measured: 4.8e-6 on edge_enhancing's
/// drift (terms ~10, max |drift| ~ 10): 1e-6 · max |reference| leaves a
/// margin of 2 and adds nothing where there is no tensor flux.
void check_close(const at::Tensor& compiled, const at::Tensor& reference, const char* what,
                 double cancellation = 0.0) {
  INFO(what);
  REQUIRE(compiled.sizes() == at::broadcast_to(reference, compiled.sizes()).sizes());
  const at::Tensor r = at::broadcast_to(reference, compiled.sizes()).to(at::kDouble);
  const at::Tensor c = compiled.to(at::kDouble);
  const double slack = cancellation * r.abs().max().item<double>();
  const at::Tensor excess = (c - r).abs() - (1e-6 + slack + 1e-5 * r.abs());
  const double worst = excess.max().item<double>();
  INFO("max |compiled - reference| = " << (c - r).abs().max().item<double>()
                                       << ", worst excess over the tolerance " << worst);
  CHECK(worst <= 0.0);
  CHECK(at::isfinite(c).all().item<bool>() == at::isfinite(r).all().item<bool>());
}

/// Whether the expression holds a matrix (a tensor flux's D).
bool has_matrix(const spdec::lang::ExprRef& e, std::set<const spdec::lang::Expr*>& seen) {
  if (!seen.insert(e.get()).second) return false;
  if (e->shape == spdec::lang::Shape::matrix) return true;
  return std::any_of(e->args.begin(), e->args.end(),
                     [&](const spdec::lang::ExprRef& a) { return has_matrix(a, seen); });
}

void compare_all_kernels(const spdec::lang::Process& process, const std::string& label) {
  INFO(label);
  std::set<const spdec::lang::Expr*> seen;
  const double cancellation = has_matrix(process.drift, seen) ? 1e-6 : 0.0;
  auto shared_process = std::make_shared<const spdec::lang::Process>(process);
  auto program = std::make_shared<const spdec::codegen::StencilProgram>(
      spdec::codegen::build_program(process));
  const auto compiled = spdec::runtime::make_compiled_kernels(shared_process, program, at::kCPU);
  const auto reference = spdec::runtime::make_reference_kernels(shared_process, program);

  const std::int64_t N = 2, C = process.channels == spdec::lang::Channels::coupled ? 3 : 2;
  const std::int64_t H = 9, W = 11;  // odd, not square, smaller than nothing: borders matter
  const at::Tensor u = test_state(N, C, H, W);
  const at::Tensor u0 = test_state(N, C, H, W).flip({3}).contiguous();
  const double t = 0.37 * process.time.T + 0.5 * process.time.t0;
  const double dt = process.time.dt;

  check_close(compiled->drift(u, u0, t), reference->drift(u, u0, t), "drift", cancellation);
  check_close(compiled->diffusion(u, u0, t), reference->diffusion(u, u0, t), "diffusion");
  const at::Tensor qdiag = 0.5 + at::rand({H, W}, spdec::test::f32());
  check_close(compiled->div_sigma(u, u0, t, at::Tensor()),
              reference->div_sigma(u, u0, t, at::Tensor()), "div_sigma");
  check_close(compiled->div_sigma(u, u0, t, qdiag), reference->div_sigma(u, u0, t, qdiag),
              "div_sigma with q");

  NoiseSource noise;
  noise.seed = 1234;
  noise.step = 17;
  noise.sample_ids = at::tensor({5, 2}, at::kLong);
  // Noise streams: bit-identical (the same host code draws them on the CPU).
  const at::Tensor xi_c = compiled->noise(u.sizes(), noise, at::kCPU);
  const at::Tensor xi_r = reference->noise(u.sizes(), noise, at::kCPU);
  CHECK(at::equal(xi_c, xi_r));
  if (!program->noise_identity) noise.correlated = at::randn_like(u);

  check_close(compiled->forward_step(u, u0, t, dt, noise),
              reference->forward_step(u, u0, t, dt, noise), "forward_step", cancellation);
  at::Tensor var_c = at::full_like(u, 0.25);
  at::Tensor var_r = at::full_like(u, 0.25);
  check_close(compiled->flow_steps(u, u0, t, dt, 3, &var_c),
              reference->flow_steps(u, u0, t, dt, 3, &var_r), "flow_steps", cancellation);
  check_close(var_c, var_r, "flow_steps variance");
  const at::Tensor score = at::randn_like(u);
  check_close(compiled->reverse_step(u, u0, t, dt, score, qdiag, noise),
              reference->reverse_step(u, u0, t, dt, score, qdiag, noise), "reverse_step",
              cancellation);
  check_close(compiled->ode_velocity(u, u0, t, dt, score, qdiag),
              reference->ode_velocity(u, u0, t, dt, score, qdiag), "ode_velocity", cancellation);

  // fed_steps (every library process has a FED operator; a process without
  // one says why): two steps below the explicit limit 2/L, so that no FED
  // amplification of rounding enters and the tolerance above applies;
  // conductances frozen at another state.
  if (!program->fed.available) {
    CHECK_FALSE(program->fed.refusal.empty());
    return;
  }
  const double bound =
      spdec::runtime::fed_operator_bound(*compiled, t, t + 0.01, program->reads_u0);
  const double unit = bound > 0 ? 1.0 / bound : 0.01;
  const spdec::runtime::FedCycle cycle{t, t + unit, {0.3 * unit, 0.7 * unit}};
  const at::Tensor frozen = test_state(N, C, H, W).flip({2}).contiguous();
  at::Tensor fed_var_c = at::full_like(u, 0.25);
  at::Tensor fed_var_r = at::full_like(u, 0.25);
  check_close(compiled->fed_steps(u, frozen, u0, cycle, &fed_var_c),
              reference->fed_steps(u, frozen, u0, cycle, &fed_var_r), "fed_steps", cancellation);
  check_close(fed_var_c, fed_var_r, "fed_steps variance");
}

std::vector<std::filesystem::path> library_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(SPDEC_SOURCE_DIR) / "library")) {
    if (entry.path().extension() == ".spde") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST_CASE("compiled CPU kernels equal the reference evaluator on every library process",
          "[differential]") {
  spdec::test::torch_setup();
  for (const auto& file : library_files()) {
    const std::string text = read_file(file);
    for (const char* boundary : {"neumann", "periodic", "dirichlet 0.3"}) {
      compare_all_kernels(spdec::test::check_process(with_boundary(text, boundary)),
                          file.filename().string() + ", boundary " + boundary);
    }
  }
}

TEST_CASE("compiled CPU kernels equal the reference on stencil corner cases", "[differential]") {
  spdec::test::torch_setup(7);
  // Two drifts that together use every stencil and most scalar operations
  // (one compile per combination: keep the count low).
  const char* drifts[] = {
      "lap(lap(u)) + shift(u, -3, 2) - u + div(vec(u * x, u0 * y))",
      "div(exp(-norm2(grad(u))) * grad(u)) + dx(u) * dy(u0) + norm(sobel(u)) "
      "+ select(u > 0, lap(u), -u) + min(u, u0) - max(u, 0.5)",
  };
  for (const char* drift : drifts) {
    for (const char* scheme : {"paper", "face_mean", "face_gradient"}) {
      for (const char* boundary : {"neumann", "periodic", "dirichlet -0.2"}) {
        for (const char* channels : {"independent", "coupled"}) {
          const std::string text = std::string("process corner\ndrift = ") + drift +
                                   "\ndiffusion = 0.5 + 0.1 * u^2 + 0.05 * norm2(grad(u))\n"
                                   "scheme " +
                                   scheme + "\nboundary " + boundary + "\nchannels " + channels +
                                   "\ngradient central\ntime T = 1, dt = 0.01, taming = 0.5\n";
          compare_all_kernels(spdec::test::check_process(text), text);
        }
      }
    }
  }
}

TEST_CASE("compiled CPU kernels equal the reference on tensor diffusion",
          "[differential][tensor]") {
  // Every construct of LANGUAGE.md §7.4 and §13.6-13.7 in one drift: mat,
  // matrix arithmetic and select, M * v, the tensor flux (its scaled form
  // too), divxy, gauss, structure, eig1, eig2, evec1, evec2, eigmat; gauss in
  // the diffusion, whose derivative div_sigma differentiates through it.
  // One scheme, boundary and channel setting per compile (each is tens of
  // seconds), together covering each of them.
  spdec::test::torch_setup(13);
  const char* drift =
      "div(eigmat(evec1(structure(u, 0.5, 0.7)), 0.05 + 0.1 * u0^2, "
      "1 / (1 + norm2(grad(gauss(u, 0.6))))) * grad(u)) + divxy(1 + u^2, exp(-u0^2), u) "
      "+ 0.3 * div(select(u > 0, 2 * mat(1, 0.2 * u, 0.5), mat(0.5, -0.1, 1) - mat(0, 0, 0.2)) "
      "* grad(u) / 2) + eig1(mat(u, u0, 1)) - eig2(mat(1, 0.1 * x, u0)) "
      "+ dot(evec2(mat(u, 0.3, u0)) + mat(1, 0.5, 2) * grad(u0), vec(1, 2))";
  struct Setting {
    const char* scheme;
    const char* boundary;
    const char* channels;
  };
  for (const Setting& setting :
       {Setting{"paper", "neumann", "independent"}, Setting{"face_mean", "periodic", "coupled"},
        Setting{"face_gradient", "dirichlet -0.2", "independent"}}) {
    // (Appended piece by piece: GCC 12 sees a false array bound in a chain of +.)
    std::string text = "process tensor\ndrift = ";
    text += drift;
    text += "\ndiffusion = 0.5 + 0.1 * gauss(u, 0.5)^2 + 0.05 * norm2(grad(gauss(u, 0.5)))";
    text += std::string("\nscheme ") + setting.scheme;
    text += std::string("\nboundary ") + setting.boundary;
    text += std::string("\nchannels ") + setting.channels;
    text += "\ngradient central\ntime T = 1, dt = 0.01, taming = 0.5\n";
    compare_all_kernels(spdec::test::check_process(text), text);
  }
}

TEST_CASE("compiled div Sigma is the diagonal of the autograd Jacobian of diag(Sigma)",
          "[differential][div_sigma]") {
  // diag(Σ)ᵢ = gᵢ(u)² Qᵢᵢ, so ∂diag(Σ)ᵢ/∂uᵢ, taken here from the full
  // Jacobian (one backward pass per pixel on a 6 x 5 grid), is what
  // div_sigma computes from the symbolic derivative of the discretised g.
  // White noise (Q = I) and ℓ > 0 (Qᵢᵢ from the spectral operator, not 1
  // near a Neumann border).
  spdec::test::torch_setup(11);
  for (const char* noise : {"correlation_length = 0", "correlation_length = 2"}) {
    for (const char* boundary : {"neumann", "periodic", "dirichlet 0.1"}) {
      std::string text = "process ds\ndrift = lap(u)\n";
      text += "diffusion = 1 / sqrt(1 + norm2(grad(u))) + 0.1 * u^2 + 0.05 * shift(u, 1, 0)\n";
      text += std::string("noise ") + noise + "\nboundary " + boundary;
      text += "\ntime T = 1, dt = 0.01\n";
      INFO(text);
      const auto checked = spdec::test::check_process(text);
      auto process = std::make_shared<const spdec::lang::Process>(checked);
      auto program = std::make_shared<const spdec::codegen::StencilProgram>(
          spdec::codegen::build_program(*process));
      const auto compiled = spdec::runtime::make_compiled_kernels(process, program, at::kCPU);
      const auto reference = spdec::runtime::make_reference_kernels(process, program);
      const std::int64_t H = 6, W = 5;
      const spdec::runtime::NoiseOperator q(*process, H, W);
      const at::Tensor qdiag = q.diagonal().to(at::kFloat).contiguous();
      const at::Tensor u = test_state(1, 1, H, W);
      const double t = 0.4;

      at::Tensor v = u.clone().set_requires_grad(true);
      const at::Tensor g = reference->diffusion(v, at::Tensor(), t);
      const at::Tensor diag_sigma = (at::broadcast_to(g, v.sizes()) *
                                     at::broadcast_to(g, v.sizes()) * qdiag.view({1, 1, H, W}))
                                        .flatten();
      std::vector<float> jacobian_diagonal(static_cast<std::size_t>(H * W));
      for (std::int64_t i = 0; i < H * W; ++i) {
        const at::Tensor row =
            torch::autograd::grad({diag_sigma[i]}, {v}, {}, /*retain_graph=*/true)[0];
        jacobian_diagonal[static_cast<std::size_t>(i)] = row.flatten()[i].item<float>();
      }
      const at::Tensor expected =
          at::tensor(jacobian_diagonal, spdec::test::f32()).view({1, 1, H, W});
      const bool white = std::string(noise).find("= 0") != std::string::npos;
      check_close(compiled->div_sigma(u, at::Tensor(), t, white ? at::Tensor() : qdiag), expected,
                  "div_sigma vs autograd");
    }
  }
}
