#include "lang/tensor.hpp"

#include <cmath>
#include <numeric>

#include "lang/diagnostics.hpp"

namespace spdec::lang {

namespace {

ExprRef add(const ExprRef& a, const ExprRef& b, Span s) { return binary(Op::add, a, b, s); }
ExprRef sub(const ExprRef& a, const ExprRef& b, Span s) { return binary(Op::sub, a, b, s); }
ExprRef mul(const ExprRef& a, const ExprRef& b, Span s) { return binary(Op::mul, a, b, s); }
ExprRef quotient(const ExprRef& a, const ExprRef& b, Span s) { return binary(Op::div, a, b, s); }
ExprRef number(double v, Span s) { return constant(v, s); }
ExprRef absolute(const ExprRef& a, Span s) { return unary(Op::abs, a, s); }

const ExprRef& entry(const ExprRef& m, std::size_t k) {
  if (m->op != Op::make_matrix) internal_error("a matrix that is not a make_matrix node");
  return m->args[k];
}

/// √((a − c)² + 4b²) = μ₁ − μ₂, the gap between the eigenvalues.
ExprRef eigenvalue_gap(const ExprRef& m, Span s) {
  const ExprRef diagonal = sub(entry(m, 0), entry(m, 2), s);
  const ExprRef off = entry(m, 1);
  return unary(Op::sqrt,
               add(mul(diagonal, diagonal, s), mul(number(4.0, s), mul(off, off, s), s), s), s);
}

}  // namespace

int gauss_radius(double sigma) {
  // The product 3σ is rounded to the nearest double first, so ⌈3·(1/3)⌉ is 1.
  return static_cast<int>(std::ceil(3.0 * sigma));
}

bool valid_gauss_scale(double sigma) {
  return std::isfinite(sigma) && sigma >= 0.0 && gauss_radius(sigma) <= kMaxGaussRadius;
}

std::vector<double> gauss_weights(double sigma) {
  if (!valid_gauss_scale(sigma)) internal_error("gauss_weights of an unchecked scale");
  const int r = gauss_radius(sigma);
  if (r == 0) return {1.0};
  std::vector<double> w;
  w.reserve(static_cast<std::size_t>(2 * r + 1));
  for (int k = -r; k <= r; ++k) {
    const double x = static_cast<double>(k) / sigma;
    w.push_back(std::exp(-0.5 * x * x));
  }
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  for (double& x : w) x /= total;
  return w;
}

ExprRef eigenvalue(const ExprRef& m, bool largest, Span s) {
  const ExprRef trace = add(entry(m, 0), entry(m, 2), s);
  const ExprRef gap = eigenvalue_gap(m, s);
  return mul(number(0.5, s), largest ? add(trace, gap, s) : sub(trace, gap, s), s);
}

ExprRef eigenvector(const ExprRef& m, bool leading, Span s) {
  // (a − c + d, 2b) for a ≥ c, else (2b, c − a + d), d the gap: both are
  // eigenvectors of μ₁ = (a + c + d)/2, and the branch keeps the larger
  // first (or second) component, so the vector vanishes only when d = 0,
  // i.e. for a multiple of the identity, where (1, 0) is taken.
  const ExprRef& a = entry(m, 0);
  const ExprRef& b = entry(m, 1);
  const ExprRef& c = entry(m, 2);
  const ExprRef d = eigenvalue_gap(m, s);
  const ExprRef wide = binary(Op::ge, a, c, s);
  const ExprRef two_b = mul(number(2.0, s), b, s);
  const ExprRef p = select(wide, add(sub(a, c, s), d, s), two_b, s);
  const ExprRef q = select(wide, two_b, add(sub(c, a, s), d, s), s);
  const ExprRef n2 = add(mul(p, p, s), mul(q, q, s), s);
  const ExprRef nonzero = binary(Op::gt, n2, number(0.0, s), s);
  // The divisor is 1 where the norm is 0, so no branch divides by zero
  // (both branches of a select are evaluated, and differentiated).
  const ExprRef norm = unary(Op::sqrt, select(nonzero, n2, number(1.0, s), s), s);
  const ExprRef x = select(nonzero, quotient(p, norm, s), number(1.0, s), s);
  const ExprRef y = select(nonzero, quotient(q, norm, s), number(0.0, s), s);
  return leading ? make_vector(x, y, s) : make_vector(unary(Op::neg, y, s), x, s);
}

ExprRef matrix_from_eigen(const ExprRef& v, const ExprRef& along, const ExprRef& across, Span s) {
  const ExprRef vx = vector_component(v, 0, s);
  const ExprRef vy = vector_component(v, 1, s);
  const ExprRef n2 = add(mul(vx, vx, s), mul(vy, vy, s), s);
  const ExprRef nonzero = binary(Op::gt, n2, number(0.0, s), s);
  const ExprRef divisor = select(nonzero, n2, number(1.0, s), s);
  // v̂v̂ᵀ = [[xx, xy], [xy, yy]], e_x e_xᵀ where v = 0.
  const ExprRef xx = select(nonzero, quotient(mul(vx, vx, s), divisor, s), number(1.0, s), s);
  const ExprRef xy = select(nonzero, quotient(mul(vx, vy, s), divisor, s), number(0.0, s), s);
  const ExprRef yy = select(nonzero, quotient(mul(vy, vy, s), divisor, s), number(0.0, s), s);
  const ExprRef spread = sub(along, across, s);
  return make_matrix(add(across, mul(spread, xx, s), s), mul(spread, xy, s),
                     add(across, mul(spread, yy, s), s), s);
}

ExprRef structure_tensor(const ExprRef& e, double sigma, double rho, Span s) {
  const ExprRef smooth = gauss(e, sigma, s);
  const ExprRef gx = stencil(Op::dx, smooth, s);
  const ExprRef gy = stencil(Op::dy, smooth, s);
  // Per channel: the outer product is not a reduction (LANGUAGE.md §13.7
  // says why a colour tensor summed over channels is not built in).
  return make_matrix(gauss(mul(gx, gx, s), rho, s), gauss(mul(gx, gy, s), rho, s),
                     gauss(mul(gy, gy, s), rho, s), s);
}

std::optional<TensorFlux> match_tensor_flux(const ExprRef& v) {
  if (v->shape != Shape::vector) return std::nullopt;
  if (v->op == Op::mul && v->args[0]->shape == Shape::matrix && v->args[1]->op == Op::grad) {
    return TensorFlux{v->args[0], v->args[1]->args[0]};
  }
  const auto scaled = [&](const ExprRef& flux, const ExprRef& factor,
                          Op op) -> std::optional<TensorFlux> {
    auto inner = match_tensor_flux(flux);
    if (!inner) return std::nullopt;
    inner->matrix = binary(op, inner->matrix, factor, v->span);
    return inner;
  };
  if (v->op == Op::mul && v->args[0]->shape == Shape::scalar) {
    return scaled(v->args[1], v->args[0], Op::mul);
  }
  if (v->op == Op::mul && v->args[1]->shape == Shape::scalar) {
    return scaled(v->args[0], v->args[1], Op::mul);
  }
  if (v->op == Op::div) return scaled(v->args[0], v->args[1], Op::div);
  return std::nullopt;
}

ExprRef tensor_diffusivity(const ExprRef& m, Span s) {
  const ExprRef& a = entry(m, 0);
  const ExprRef& c = entry(m, 2);
  const ExprRef off = absolute(entry(m, 1), s);
  const ExprRef centre = absolute(sub(add(a, c, s), off, s), s);
  const ExprRef x_faces = absolute(sub(a, off, s), s);
  const ExprRef y_faces = absolute(sub(c, off, s), s);
  return mul(number(0.25, s), add(add(add(centre, x_faces, s), y_faces, s), off, s), s);
}

}  // namespace spdec::lang
