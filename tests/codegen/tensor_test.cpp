// Oracles of the tensor discretisation (LANGUAGE.md §13.6–13.7): the
// lowered IR of div(D * grad(u)), divxy, gauss and structure, evaluated by
// the double-precision IR interpreter (tests/codegen/ir_interpreter.hpp)
// against facts that do not depend on the lowering — the scalar flux it
// must reduce to, lattice rotation, exactness on quadratics, the maximum
// principle below the step bound W102 states, the normal of a straight edge.
//
// Tolerances: everything runs in double on values of order 1 to 100 through
// at most a few hundred operations, so algebraic identities hold to ~1e-13;
// 1e-10 leaves a wide margin without hiding a wrong weight (an error in any
// stencil weight moves the result by at least ~1e-3 on these data).
#include "lang/tensor.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <iomanip>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "codegen/compile.hpp"
#include "codegen/pipeline.hpp"
#include "lang/check.hpp"
#include "lang/lint.hpp"
#include "tests/codegen/ir_interpreter.hpp"
#include "tests/codegen/support.hpp"

using spdec::test::Image;
using spdec::test::IrInterpreter;

namespace {

constexpr double kAlgebra = 1e-10;

const std::vector<std::string> kSchemes = {"paper", "face_mean", "face_gradient"};
const std::vector<std::string> kBoundaries = {"neumann", "periodic", "dirichlet 0.3"};

Image random_image(std::int32_t h, std::int32_t w, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  Image image;
  image.H = h;
  image.W = w;
  for (std::int32_t i = 0; i < h * w; ++i) image.u.push_back(uniform(rng));
  for (std::int32_t i = 0; i < h * w; ++i) image.u0.push_back(uniform(rng));
  return image;
}

/// A number as the language reads it back exactly.
std::string exact(double v) {
  std::ostringstream out;
  out << std::setprecision(17) << v;
  return out.str();
}

std::string process_text(const std::string& drift, const std::string& settings, double dt = 0.01) {
  return "process p\ndrift = " + drift + "\ndiffusion = 0.1\n" + settings +
         "\ntime T = 100, dt = " + exact(dt) + "\n";
}

std::vector<double> drift_field(const std::string& text, const Image& image) {
  const auto program = spdec::codegen::build_program(spdec::test::checked(text));
  IrInterpreter ir(program, image, 0.5);
  return ir.field(program.drift.general);
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

/// The image turned by 90°: direction (1, 0) becomes (0, 1), so the pixel
/// (x, y) moves to (N − 1 − y, x) (square images).
std::vector<double> rotated(const std::vector<double>& field, std::int32_t n) {
  std::vector<double> out(field.size());
  for (std::int32_t y = 0; y < n; ++y) {
    for (std::int32_t x = 0; x < n; ++x) {
      out.at(static_cast<std::size_t>(x * n + (n - 1 - y))) =
          field.at(static_cast<std::size_t>(y * n + x));
    }
  }
  return out;
}

std::size_t count_warnings(const std::string& text, const std::string& code) {
  spdec::lang::Diagnostics diagnostics;
  auto file = std::make_shared<const spdec::lang::SourceFile>("test.spde", text);
  (void)spdec::lang::check_source(file, spdec::lang::CheckOptions{}, diagnostics);
  return static_cast<std::size_t>(
      std::count_if(diagnostics.all().begin(), diagnostics.all().end(),
                    [&](const spdec::lang::Diagnostic& d) { return d.code == code; }));
}

}  // namespace

TEST_CASE("tensor diffusion with D = k I is the scalar flux of div(k * grad(u))", "[tensor]") {
  // k reads u, x and the node gradient, so every scheme places it
  // differently (neighbour node, face mean, face gradient).
  const std::string k = "(1 + 0.5 * sin(3 * u) + 0.05 * x) / sqrt(1 + norm2(grad(u)))";
  const Image image = random_image(7, 8, 1);
  double worst = 0;
  for (const std::string& scheme : kSchemes) {
    for (const std::string& boundary : kBoundaries) {
      INFO(scheme << ", " << boundary);
      const std::string settings = "scheme " + scheme + "\nboundary " + boundary;
      const auto scalar = drift_field(process_text("div(" + k + " * grad(u))", settings), image);
      const auto tensor =
          drift_field(process_text("div(mat(" + k + ", 0, " + k + ") * grad(u))", settings), image);
      const auto axes =
          drift_field(process_text("divxy(" + k + ", " + k + ", u)", settings), image);
      worst = std::max({worst, max_abs_diff(scalar, tensor), max_abs_diff(scalar, axes)});
      CHECK(max_abs_diff(scalar, tensor) <= 1e-6);
      CHECK(max_abs_diff(scalar, axes) <= 1e-6);
    }
  }
  // The diagonal terms fold away and the axis terms are the same operations
  // on the same values: equal to the last bit.
  WARN("D = k I against the scalar flux: max |difference| = " << worst);
  CHECK(worst == 0.0);
}

TEST_CASE("a rotated image with a rotated D gives the rotated output", "[tensor]") {
  // 90° turns D = [[a, b], [b, c]] into R D Rᵀ = [[c, −b], [−b, a]]. The
  // u-dependent tensors (edge- and coherence-enhancing) turn by themselves,
  // since they are built from the gradient and from smoothings of the image
  // extended by the ghost rule, which turns with it (§13.7).
  const std::int32_t n = 9;
  const Image image = random_image(n, n, 2);
  Image turned = image;
  turned.u = rotated(image.u, n);
  turned.u0 = rotated(image.u0, n);
  struct Pair {
    std::string original;
    std::string turned;
  };
  const std::string eed =
      "div(eigmat(grad(gauss(u, 0.8)), 1 / (1 + norm2(grad(gauss(u, 0.8)))), 1) * grad(u))";
  const std::string ced =
      "div(eigmat(evec1(structure(u, 0.5, 1)), 0.1, "
      "0.1 + 0.9 * exp(-0.2 / (eig1(structure(u, 0.5, 1)) - eig2(structure(u, 0.5, 1)))^2)) "
      "* grad(u))";
  const std::vector<Pair> pairs = {
      {"div(mat(1.3, 0.4, 0.7) * grad(u))", "div(mat(0.7, -0.4, 1.3) * grad(u))"},
      {"div(mat(1 + u^2, 0.3 * u0, 2) * grad(u))", "div(mat(2, -0.3 * u0, 1 + u^2) * grad(u))"},
      {"divxy(1 + u^2, exp(-u0), u)", "divxy(exp(-u0), 1 + u^2, u)"},
      {eed, eed},
      {ced, ced},
  };
  double worst = 0;
  for (const Pair& pair : pairs) {
    for (const std::string& scheme : kSchemes) {
      for (const std::string& boundary : kBoundaries) {
        INFO(pair.original << "\n" << scheme << ", " << boundary);
        const std::string settings = "scheme " + scheme + "\nboundary " + boundary;
        const auto expected = rotated(drift_field(process_text(pair.original, settings), image), n);
        const auto got = drift_field(process_text(pair.turned, settings), turned);
        worst = std::max(worst, max_abs_diff(got, expected));
        CHECK(max_abs_diff(got, expected) <= kAlgebra);
      }
    }
  }
  WARN("rotation by 90 degrees: max |difference| = " << worst);
}

TEST_CASE("the tensor stencil is exact on quadratics: div(D grad u) = tr(DA)", "[tensor]") {
  // u = ½ xᵀAx + g·x + f: every second difference of u is exact, and for
  // constant D the weights of opposite neighbours are equal, so the first
  // order terms cancel and Σ_pairs w_d dᵀAd = aA₁₁ + 2bA₁₂ + cA₂₂ (§13.6).
  const std::int32_t n = 8;
  const double a11 = 0.7, a12 = -0.45, a22 = 1.6;
  Image image;
  image.H = n;
  image.W = n;
  for (std::int32_t y = 0; y < n; ++y) {
    for (std::int32_t x = 0; x < n; ++x) {
      image.u.push_back(0.5 * (a11 * x * x + 2 * a12 * x * y + a22 * y * y) + 0.3 * x - 1.1 * y +
                        2);
    }
  }
  struct Tensor {
    double a, b, c;
  };
  double worst = 0;
  for (const Tensor d : {Tensor{1.0, 0.0, 1.0}, Tensor{1.3, 0.4, 0.7}, Tensor{0.5, -0.45, 2.0},
                         Tensor{0.2, 0.9, 0.3}}) {
    const double expected = d.a * a11 + 2 * d.b * a12 + d.c * a22;
    for (const std::string& scheme : kSchemes) {
      const std::string text = process_text(
          "div(mat(" + exact(d.a) + ", " + exact(d.b) + ", " + exact(d.c) + ") * grad(u))",
          "scheme " + scheme);
      const auto field = drift_field(text, image);
      for (std::int32_t y = 1; y < n - 1; ++y) {
        for (std::int32_t x = 1; x < n - 1; ++x) {
          INFO(text << "pixel " << x << ", " << y);
          const double got = field.at(static_cast<std::size_t>(y * n + x));
          worst = std::max(worst, std::fabs(got - expected));
          CHECK(got == Approx(expected).margin(kAlgebra));
        }
      }
    }
  }
  WARN("quadratics: max |div(D grad u) - tr(DA)| in the interior = " << worst);
}

TEST_CASE("explicit steps below the W102 bound keep the maximum principle and W102 fires above it",
          "[tensor][stability]") {
  // Constant D with |b| <= min(a, c) (condition number at most 3 + 2√2):
  // every off-centre weight is >= 0 and sums to 2(a + c) − 2|b|, so
  // u + dt·div(D∇u) is a convex combination of neighbours exactly when
  // dt·(2(a + c) − 2|b|) <= 1, which is the bound 4·dt·k <= 1 of W102.
  struct Tensor {
    double a, b, c;
  };
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<Tensor> tensors = {{1.0, 0.0, 1.0}, {2.0, 1.0, 1.5}, {0.5, -0.5, 3.0}};
  for (int i = 0; i < 5; ++i) {
    const double a = 0.2 + 2 * uniform(rng);
    const double c = 0.2 + 2 * uniform(rng);
    const double b = (2 * uniform(rng) - 1) * std::min(a, c);
    tensors.push_back({a, b, c});
  }
  for (const Tensor d : tensors) {
    const std::string drift =
        "div(mat(" + exact(d.a) + ", " + exact(d.b) + ", " + exact(d.c) + ") * grad(u))";
    const double weights = 2 * (d.a + d.c) - 2 * std::fabs(d.b);
    const auto process = spdec::test::checked(process_text(drift, ""));
    const auto bound = spdec::lang::stability_bound(process);
    REQUIRE(bound.has_value());
    CHECK(4 * bound->max_diffusivity == Approx(weights).epsilon(1e-6));
    const double dt_max = 1.0 / weights;
    for (const std::string& boundary : kBoundaries) {
      for (const std::string& scheme : kSchemes) {
        const std::string below =
            process_text(drift, "boundary " + boundary + "\nscheme " + scheme, 0.99 * dt_max);
        INFO(below);
        CHECK(count_warnings(below, "W102") == 0);
        for (std::uint64_t seed = 10; seed < 13; ++seed) {
          const Image image = random_image(9, 10, seed);
          const auto b = drift_field(below, image);
          double lo = *std::min_element(image.u.begin(), image.u.end());
          double hi = *std::max_element(image.u.begin(), image.u.end());
          if (boundary.starts_with("dirichlet")) {  // the frame is a value too
            lo = std::min(lo, 0.3);
            hi = std::max(hi, 0.3);
          }
          for (std::size_t i = 0; i < b.size(); ++i) {
            const double next = image.u[i] + 0.99 * dt_max * b[i];
            CHECK(next >= lo - 1e-12);
            CHECK(next <= hi + 1e-12);
          }
        }
      }
    }
    // Above the bound: W102, and an impulse overshoots below 0 at its pixel.
    const std::string above = process_text(drift, "", 1.02 * dt_max);
    CHECK(count_warnings(above, "W102") == 1);
    Image impulse;
    impulse.H = 5;
    impulse.W = 5;
    impulse.u.assign(25, 0.0);
    impulse.u[12] = 1.0;
    const auto b = drift_field(above, impulse);
    CHECK(impulse.u[12] + 1.02 * dt_max * b[12] < 0.0);
  }
}

TEST_CASE("the maximum principle holds for a varying D of bounded anisotropy",
          "[tensor][stability]") {
  // D with eigenvalues λ and λ/4 (condition 4 < 3 + 2√2) in a direction that
  // turns from pixel to pixel: a, c >= |b| at every pixel, so under
  // face_mean every edge weight (a mean of two pixels' a − |b|, ...) is >= 0.
  // The largest admissible step is 1 / max_i Σ_j w_ij, read off the IR as
  // minus the centre weight (the response of an impulse at its pixel).
  const std::string drift =
      "div(eigmat(vec(cos(0.7 * x + 1.3 * y), sin(0.7 * x + 1.3 * y)), 1 + 0.5 * sin(x * y), "
      "(1 + 0.5 * sin(x * y)) / 4) * grad(u))";
  for (const std::string& boundary : {std::string("neumann"), std::string("periodic")}) {
    const std::string text = process_text(drift, "scheme face_mean\nboundary " + boundary);
    const auto program = spdec::codegen::build_program(spdec::test::checked(text));
    const std::int32_t h = 8, w = 9;
    double largest = 0;
    for (std::int32_t i = 0; i < h * w; ++i) {
      Image impulse;
      impulse.H = h;
      impulse.W = w;
      impulse.u.assign(static_cast<std::size_t>(h * w), 0.0);
      impulse.u.at(static_cast<std::size_t>(i)) = 1.0;
      IrInterpreter ir(program, impulse, 0.5);
      largest = std::max(largest, -ir.at_pixel(program.drift.general, i % w, i / w));
    }
    const double dt = 0.999 / largest;
    for (std::uint64_t seed = 20; seed < 25; ++seed) {
      const Image image = random_image(h, w, seed);
      IrInterpreter ir(program, image, 0.5);
      const auto b = ir.field(program.drift.general);
      const double lo = *std::min_element(image.u.begin(), image.u.end());
      const double hi = *std::max_element(image.u.begin(), image.u.end());
      for (std::size_t i = 0; i < b.size(); ++i) {
        INFO(boundary << " pixel " << i);
        CHECK(image.u[i] + dt * b[i] >= lo - 1e-12);
        CHECK(image.u[i] + dt * b[i] <= hi + 1e-12);
      }
    }
  }
}

TEST_CASE("the structure tensor of a straight edge has the edge's normal as leading eigenvector",
          "[tensor][structure]") {
  // A smooth step across the line n·(p − c) = 0, n at 30°: near the line the
  // leading eigenvector of J_ρ(∇u_σ) is ±n (the squared cosine with n is
  // printed as the drift), and the tensor is strongly anisotropic.
  const double angle = std::numbers::pi / 6;
  const double nx = std::cos(angle);
  const double ny = std::sin(angle);
  const std::int32_t n = 17;
  Image image;
  image.H = n;
  image.W = n;
  for (std::int32_t y = 0; y < n; ++y) {
    for (std::int32_t x = 0; x < n; ++x) {
      image.u.push_back(std::tanh((nx * (x - 8.0) + ny * (y - 8.0)) / 1.5));
    }
  }
  const std::string normal = "vec(" + exact(nx) + ", " + exact(ny) + ")";
  const std::string j = "structure(u, 1, 2)";
  const auto alignment =
      drift_field(process_text("dot(evec1(" + j + "), " + normal + ")^2", ""), image);
  const auto ratio = drift_field(process_text("eig2(" + j + ") / eig1(" + j + ")", ""), image);
  double worst = 1;
  int pixels = 0;
  for (std::int32_t y = 4; y < n - 4; ++y) {
    for (std::int32_t x = 4; x < n - 4; ++x) {
      if (std::fabs(nx * (x - 8.0) + ny * (y - 8.0)) > 2.0) continue;
      const auto i = static_cast<std::size_t>(y * n + x);
      INFO("pixel " << x << ", " << y);
      CHECK(alignment.at(i) >= 0.999);
      CHECK(ratio.at(i) <= 0.05);
      worst = std::min(worst, alignment.at(i));
      ++pixels;
    }
  }
  CHECK(pixels >= 20);
  WARN("straight edge: smallest cos^2(evec1, normal) over " << pixels << " pixels = " << worst);
}

TEST_CASE("gauss keeps constants at every border and is the separable kernel inside",
          "[tensor][gauss]") {
  const double sigma = 1.2;
  const std::vector<double> w = spdec::lang::gauss_weights(sigma);
  REQUIRE(w.size() == 9);  // radius ⌈3.6⌉ = 4
  double total = 0;
  for (const double x : w) total += x;
  CHECK(total == Approx(1.0).margin(1e-15));
  const std::int32_t n = 11;
  Image flat;
  flat.H = n;
  flat.W = n;
  flat.u.assign(static_cast<std::size_t>(n * n), 0.3);
  for (const std::string& boundary : kBoundaries) {
    const auto field = drift_field(process_text("gauss(u, 1.2)", "boundary " + boundary), flat);
    for (const double v : field) CHECK(v == Approx(0.3).margin(1e-14));
  }
  Image impulse = flat;
  impulse.u.assign(static_cast<std::size_t>(n * n), 0.0);
  impulse.u.at(static_cast<std::size_t>(5 * n + 5)) = 1.0;
  const auto field = drift_field(process_text("gauss(u, 1.2)", "boundary periodic"), impulse);
  for (std::int32_t y = 1; y < 10; ++y) {
    for (std::int32_t x = 1; x < 10; ++x) {
      const double expected =
          w.at(static_cast<std::size_t>(x - 1)) * w.at(static_cast<std::size_t>(y - 1));
      CHECK(field.at(static_cast<std::size_t>(y * n + x)) == Approx(expected).margin(1e-15));
    }
  }
}

TEST_CASE("fed: a tensor flux is lagged through its three entries, one cached field each",
          "[tensor][fed]") {
  // D reads u, its gradient, a smoothing, a structure tensor: A(v)u with D
  // frozen at v is linear, and the cached fields are D's entries on the grid
  // (read at offsets by the step), not the stencil's eight edge weights.
  for (const char* scheme : {"paper", "face_mean", "face_gradient"}) {
    for (const char* drift :
         {"div(mat(1 + u^2, 0.2 * u, 2 + dx(u)^2) * grad(u))",
          "div(eigmat(grad(gauss(u, 1)), 1 / (1 + norm2(grad(gauss(u, 1)))), 1) * grad(u))",
          "div(eigmat(evec1(structure(u, 0.5, 1)), 0.01, 1) * grad(u))"}) {
      INFO(scheme << ": " << drift);
      const auto p =
          spdec::test::program_of(spdec::test::spec(drift, "1", std::string("scheme ") + scheme));
      CHECK(p.fed.available);
      CHECK(p.fed.cached.size() == 3);
    }
  }
  // divxy: a and c read the frozen state, b = 0 folds away.
  const auto axes = spdec::test::program_of(spdec::test::spec("divxy(exp(-dx(u)^2), 1 + u^2, u)"));
  CHECK(axes.fed.available);
  CHECK(axes.fed.cached.size() == 2);
}

TEST_CASE("every tensor construct compiles for the CPU and to PTX with NVRTC", "[tensor][cuda]") {
  // The good corpus's two tensor processes use every construct of §7.4 and
  // §13.6-13.7 (no GPU needed: PTX for the oldest architecture NVRTC knows).
  for (const char* name : {"tensor_diffusion", "structure_tensor"}) {
    INFO(name);
    const auto program = spdec::codegen::build_program(spdec::test::checked_file(
        std::string(SPDEC_SOURCE_DIR) + "/tests/lang/corpus/good/" + name + ".spde"));
    std::string why;
    if (!spdec::codegen::target_available(spdec::codegen::Target::cuda, &why)) {
      WARN("CUDA target unavailable: " << why);
    } else {
      const auto ptx = spdec::codegen::compile_program(program, spdec::codegen::Target::cuda,
                                                       {spdec::codegen::ptx_arch()});
      CHECK_THAT(ptx.image, Catch::Contains(".entry spdec_drift"));
    }
    const auto cpu = spdec::codegen::compile_program(program, spdec::codegen::Target::cpu);
    CHECK(cpu.library != nullptr);
  }
}
