// The front end of 2×2 symmetric matrices (LANGUAGE.md §7.4, §8.1): the
// eigen helpers against the eigen relations on random matrices (folded to
// numbers by the constructors), matrix arithmetic kept entry by entry, the
// flat-state evaluation W102 uses, the classification of tensor fluxes, and
// the shared printing of large expressions.
#include "lang/tensor.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <random>
#include <string>

#include "lang/evaluate.hpp"
#include "lang/lint.hpp"
#include "tests/lang/test_support.hpp"

using spdec::lang::DriftClass;
using spdec::lang::ExprRef;
using spdec::lang::Op;
using spdec::lang::Shape;

namespace {

ExprRef number(double v) { return spdec::lang::constant(v, {}); }

ExprRef matrix(double a, double b, double c) {
  return spdec::lang::make_matrix(number(a), number(b), number(c), {});
}

/// The value of a constant expression (the constructors fold it).
spdec::lang::Value value(const ExprRef& e) {
  return spdec::lang::evaluate(e, spdec::lang::EvalContext{});
}

spdec::lang::Process checked(const std::string& drift, const std::string& extra = "") {
  const auto r = spdec::test::check_text("process p\ndrift = " + drift + "\ndiffusion = 1\n" +
                                         extra + "\ntime T = 1, dt = 1e-3\n");
  INFO(spdec::lang::render_all(r.diagnostics, {false}));
  REQUIRE(r.process.has_value());
  return *r.process;
}

}  // namespace

TEST_CASE("eigen helpers satisfy the eigen relations on random matrices", "[tensor]") {
  // Entries in [-2, 2]: products and square roots of numbers of order 1 in
  // double, so the relations hold to ~1e-15; 1e-12 is a wide margin.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> uniform(-2.0, 2.0);
  for (int i = 0; i < 200; ++i) {
    const double a = uniform(rng), b = uniform(rng), c = uniform(rng);
    const ExprRef m = matrix(a, b, c);
    const ExprRef mu1 = spdec::lang::eigenvalue(m, true, {});
    const ExprRef mu2 = spdec::lang::eigenvalue(m, false, {});
    const ExprRef v1 = spdec::lang::eigenvector(m, true, {});
    const ExprRef v2 = spdec::lang::eigenvector(m, false, {});
    REQUIRE(mu1->is_constant());  // folded: the helpers are ordinary operations
    const auto l1 = value(mu1).x, l2 = value(mu2).x;
    const auto e1 = value(v1), e2 = value(v2);
    INFO(a << " " << b << " " << c);
    CHECK(l1 >= l2);
    CHECK(l1 + l2 == Approx(a + c).margin(1e-12));
    CHECK(l1 * l2 == Approx(a * c - b * b).margin(1e-12));
    CHECK(e1.x * e1.x + e1.y * e1.y == Approx(1.0).margin(1e-12));
    CHECK(e1.x * e2.x + e1.y * e2.y == Approx(0.0).margin(1e-12));
    CHECK(a * e1.x + b * e1.y == Approx(l1 * e1.x).margin(1e-12));
    CHECK(b * e1.x + c * e1.y == Approx(l1 * e1.y).margin(1e-12));
    CHECK(a * e2.x + b * e2.y == Approx(l2 * e2.x).margin(1e-12));
    // eigmat inverts the decomposition, whatever the length of its direction.
    const ExprRef back = spdec::lang::matrix_from_eigen(
        spdec::lang::binary(Op::mul, number(3.5), v1, {}), mu1, mu2, {});
    const auto d = value(back);
    CHECK(d.x == Approx(a).margin(1e-12));
    CHECK(d.y == Approx(b).margin(1e-12));
    CHECK(d.z == Approx(c).margin(1e-12));
  }
  // A multiple of the identity: e_x and e_y; eigmat of a zero direction: e_x.
  const auto e1 = value(spdec::lang::eigenvector(matrix(2, 0, 2), true, {}));
  CHECK((e1.x == 1.0 && e1.y == 0.0));
  const auto e2 = value(spdec::lang::eigenvector(matrix(2, 0, 2), false, {}));
  CHECK((e2.x == 0.0 && e2.y == 1.0));
  const auto zero = spdec::lang::make_vector(number(0), number(0), {});
  const auto d = value(spdec::lang::matrix_from_eigen(zero, number(3), number(1), {}));
  CHECK((d.x == 3.0 && d.y == 0.0 && d.z == 1.0));
}

TEST_CASE("matrix arithmetic stays a mat node, entry by entry", "[tensor]") {
  const auto p = checked("div((2 * mat(1, u, 3) - mat(u, 0, 1) / 4 + -mat(1, 1, 1)) * grad(u))");
  const ExprRef& v = p.drift->args[0];
  REQUIRE(v->op == Op::mul);
  const ExprRef& m = v->args[0];
  CHECK(m->shape == Shape::matrix);
  CHECK(m->op == Op::make_matrix);
  const auto flux = spdec::lang::match_tensor_flux(v);
  REQUIRE(flux.has_value());
  CHECK(flux->operand->op == Op::field_u);
  // The symmetric four-argument spelling is the three-argument one.
  CHECK(spdec::lang::equal(checked("div(mat(1, u, u, 2) * grad(u))").drift,
                           checked("div(mat(1, u, 2) * grad(u))").drift));
  // select of matrices and scaled fluxes keep the tensor form.
  for (const char* drift :
       {"div(select(u > 0, mat(1, 0, 2), mat(2, 0, 1)) * grad(u))",
        "div(2 * (mat(1, 0.5, 2) * grad(u)))", "div((mat(1, 0.5, 2) * grad(u)) * 2)",
        "div(mat(1, 0.5, 2) * grad(u) / 2)"}) {
    INFO(drift);
    const auto scaled = checked(drift);
    REQUIRE(spdec::lang::match_tensor_flux(scaled.drift->args[0]).has_value());
  }
}

TEST_CASE("flat-state evaluation: smoothing keeps a value, M * v multiplies", "[tensor]") {
  const auto p = checked("gauss(u, 1) + 0", "");
  spdec::lang::EvalContext context;
  const ExprRef m = matrix(1, 2, 3);
  const ExprRef v = spdec::lang::make_vector(spdec::lang::leaf(Op::time), number(1), {});
  context.t = 2;
  const auto mv = spdec::lang::evaluate(spdec::lang::binary(Op::mul, m, v, {}), context);
  CHECK(mv.x == 1 * 2 + 2 * 1);
  CHECK(mv.y == 2 * 2 + 3 * 1);
  const ExprRef smooth = spdec::lang::gauss(
      spdec::lang::binary(Op::add, spdec::lang::leaf(Op::field_u), number(0.25), {}), 1.0, {});
  CHECK(smooth->op == Op::gauss);
  CHECK(spdec::lang::evaluate_scalar(smooth, context) == 0.25);  // u = 0 at a flat state
  // gauss of what does not vary in space, or with scale 0, is its operand.
  CHECK(spdec::lang::gauss(number(3), 1.0, {})->is_constant(3.0));
  CHECK(spdec::lang::gauss(spdec::lang::leaf(Op::field_u), 0.0, {})->op == Op::field_u);
  CHECK(p.classification.drift == DriftClass::linear);
}

TEST_CASE("Gaussian weights: radius ceil(3 sigma), normalised, symmetric", "[tensor]") {
  CHECK(spdec::lang::gauss_radius(0.5) == 2);
  CHECK(spdec::lang::gauss_radius(1.0) == 3);
  CHECK(spdec::lang::gauss_radius(8.0 / 3.0) == 8);
  CHECK(spdec::lang::valid_gauss_scale(8.0 / 3.0));
  CHECK_FALSE(spdec::lang::valid_gauss_scale(2.7));
  CHECK_FALSE(spdec::lang::valid_gauss_scale(-0.1));
  CHECK_FALSE(spdec::lang::valid_gauss_scale(std::nan("")));
  CHECK(spdec::lang::gauss_weights(0.0) == std::vector<double>{1.0});
  const auto w = spdec::lang::gauss_weights(0.8);
  REQUIRE(w.size() == 7);
  double total = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    total += w[i];
    CHECK(w[i] == w[w.size() - 1 - i]);
  }
  CHECK(total == Approx(1.0).margin(1e-15));
  CHECK(w[3] / w[4] == Approx(std::exp(0.5 / (0.8 * 0.8))));
}

TEST_CASE("tensor fluxes classify like scalar fluxes: quasilinear when D reads u",
          "[tensor][classify]") {
  const std::map<std::string, DriftClass> cases = {
      {"div(mat(1, 0.3, 2) * grad(u))", DriftClass::linear},
      {"div(mat(1 + x, 0.3 * u0, 2) * grad(u))", DriftClass::linear},
      {"divxy(1, 2, u)", DriftClass::linear},
      {"divxy(1 + u^2, 2, u)", DriftClass::quasilinear},
      {"divxy(exp(-norm2(grad(u))), 1 / (1 + dx(u)^2), u)", DriftClass::quasilinear},
      {"div(mat(1 + u^2, u, 2) * grad(u))", DriftClass::quasilinear},
      {"div(eigmat(grad(gauss(u, 1)), 1 / (1 + norm2(grad(gauss(u, 1)))), 1) * grad(u))",
       DriftClass::quasilinear},
      {"div(eigmat(evec1(structure(u, 0.5, 1)), 0.01, 1) * grad(u))", DriftClass::quasilinear},
      {"gauss(u, 1) - u", DriftClass::linear},
      {"eig1(structure(u, 0.5, 1))", DriftClass::nonlinear},
  };
  for (const auto& [drift, expected] : cases) {
    INFO(drift);
    CHECK(checked(drift).classification.drift == expected);
  }
  // D = c(t) I is the heat equation: spectral; any other D is not.
  CHECK(checked("div(mat(2 * t, 0, 2 * t) * grad(u))").classification.drift_spectral);
  CHECK_FALSE(checked("div(mat(1, 0.3, 1) * grad(u))").classification.drift_spectral);
  CHECK_FALSE(checked("div(mat(1, 0, 2) * grad(u))").classification.drift_spectral);
  // u only inside the tensor flux and the smoothing: no pointwise rate.
  CHECK(checked("divxy(1 + u^2, 1, u) + gauss(u, 1)", "semantics decoupled")
            .classification.pointwise_rate.refusal.empty());
}

TEST_CASE("W102 charges a tensor flux (|a + c - |b|| + |a - |b|| + |c - |b|| + |b|) / 4",
          "[tensor][lint]") {
  // a, c >= |b|: (a + c − |b|)/2; here (2 + 1 − 0.5)/2 = 1.25, scaled by 3.
  auto bound = spdec::lang::stability_bound(checked("3 * div(mat(2, -0.5, 1) * grad(u))"));
  REQUIRE(bound.has_value());
  CHECK(bound->max_diffusivity == Approx(3 * 1.25));
  // Strong anisotropy (a < |b|): the negative weights count with their size:
  // (|0.2 + 1 − 0.6| + |0.2 − 0.6| + |1 − 0.6| + 0.6)/4 = 0.5.
  bound = spdec::lang::stability_bound(checked("div(mat(0.2, 0.6, 1) * grad(u))"));
  REQUIRE(bound.has_value());
  CHECK(bound->max_diffusivity == Approx(0.5));
  // With the scalar flux beside it, the terms add as in §13.4.
  bound = spdec::lang::stability_bound(checked("lap(u) + divxy(2, 4, u)"));
  REQUIRE(bound.has_value());
  CHECK(bound->max_diffusivity == Approx(1 + 3));
  const auto r = spdec::test::check_text(
      "process p\ndrift = div(mat(200, 50, 100) * grad(u))\ndiffusion = 1\ntime T = 1, dt = "
      "0.01\n");
  CHECK(r.has_warning("W102"));
}

TEST_CASE("large expressions print their shared subexpressions once", "[tensor][format]") {
  const auto p = checked(
      "div(eigmat(evec1(structure(u, 0.5, 1)), 0.01, 1 + eig1(structure(u, 0.5, 1))) * "
      "grad(u))");
  const std::string shared = spdec::lang::to_string_shared(p.drift);
  CHECK(shared.size() < 3000);
  CHECK(shared.find(" where $1 = ") != std::string::npos);
  CHECK(spdec::lang::to_string(p.drift).size() > 20 * shared.size());
  // Small expressions print as before.
  const auto small = checked("div(1 / sqrt(1 + norm2(grad(u))) * grad(u))");
  CHECK(spdec::lang::to_string_shared(small.drift) == spdec::lang::to_string(small.drift));
}
