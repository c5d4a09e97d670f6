#include "lang/classify.hpp"

#include <algorithm>

#include "lang/linear_rate.hpp"
#include "lang/ops.hpp"
#include "lang/tensor.hpp"
#include "lang/training_plan.hpp"

namespace spdec::lang {

namespace {

/// How an expression depends on the state u, relative to its highest
/// derivative order: the PDE notions of appendix G made syntactic.
///   - order: highest derivative of u it contains (-1: does not read u);
///   - affine: affine in u with coefficients that do not read u;
///   - top: how the highest-order derivatives enter.
enum class Top {
  linear_free,   ///< linearly, coefficients free of u (semilinear)
  linear_state,  ///< linearly, coefficients read lower-order u (quasilinear)
  nonlinear,     ///< nonlinearly (fully nonlinear)
};

struct Dependence {
  int order = -1;
  bool affine = true;
  Top top = Top::linear_free;
};

constexpr Dependence kFree{};

Top worst(Top a, Top b) {
  return static_cast<Top>(std::max(static_cast<int>(a), static_cast<int>(b)));
}

Dependence nonlinear_of(const Dependence& a) {
  if (a.order < 0) {
    return kFree;
  }
  return {a.order, false, Top::nonlinear};
}

/// The order in space of a stencil (grad 1, lap 2), 0 for everything else.
int derivative_order(Op op) { return op_info(op).space_order; }

Dependence sum(const Dependence& a, const Dependence& b) {
  if (a.order < 0) {
    return b;
  }
  if (b.order < 0) {
    return a;
  }
  Dependence out;
  out.order = std::max(a.order, b.order);
  out.affine = a.affine && b.affine;
  out.top = a.order == b.order ? worst(a.top, b.top) : (a.order > b.order ? a.top : b.top);
  return out;
}

Dependence product(const Dependence& a, const Dependence& b) {
  if (a.order < 0) {
    return b;  // scaling by a coefficient free of u
  }
  if (b.order < 0) {
    return a;
  }
  Dependence out;
  out.order = std::max(a.order, b.order);
  out.affine = false;
  if (a.order == b.order) {
    out.top = Top::nonlinear;  // product of two top-order terms
  } else {
    const Dependence& high = a.order > b.order ? a : b;
    out.top = high.top == Top::nonlinear ? Top::nonlinear : Top::linear_state;
  }
  return out;
}

Dependence dependence(const ExprRef& e) {
  if ((e->reads & reads_u) == 0) {
    return kFree;
  }
  const auto& a = e->args;
  if (const int order = derivative_order(e->op); order > 0) {
    const Dependence inner = dependence(a[0]);
    // Differentiating is linear in the new top derivatives (chain rule);
    // their coefficients read u unless the operand was linear in its top.
    return {inner.order + order, inner.affine,
            inner.top == Top::linear_free ? Top::linear_free : Top::linear_state};
  }
  switch (e->op) {
    case Op::field_u:
      return {0, true, Top::linear_free};
    case Op::neg:
    case Op::shift:
    case Op::gauss:  // a fixed weighted sum of neighbours: linear, no derivative
      return dependence(a[0]);
    case Op::add:
    case Op::sub:
    case Op::make_vector:
      return sum(dependence(a[0]), dependence(a[1]));
    case Op::make_matrix:
      return sum(sum(dependence(a[0]), dependence(a[1])), dependence(a[2]));
    case Op::mul:
    case Op::dot:
      return product(dependence(a[0]), dependence(a[1]));
    case Op::div: {
      const Dependence den = dependence(a[1]);
      return den.order < 0 ? dependence(a[0]) : product(dependence(a[0]), nonlinear_of(den));
    }
    case Op::select: {
      const Dependence c = dependence(a[0]);
      const Dependence branches = sum(dependence(a[1]), dependence(a[2]));
      return c.order < 0 ? branches : nonlinear_of(sum(c, branches));
    }
    default: {
      Dependence all;
      for (const ExprRef& arg : a) {
        all = sum(all, dependence(arg));
      }
      return nonlinear_of(all);
    }
  }
}

/// True when e is a homogeneous combination of identity, lap and div(grad)
/// applied to u, with time-stage coefficients (diagonal in the DCT/FFT basis).
bool spectral(const ExprRef& e) {
  if ((e->reads & reads_u) == 0) {
    return e->is_constant(0.0) || e->is_constant_vector(0.0);
  }
  if ((e->reads & (reads_u0 | reads_xy | reads_kappa)) != 0) {
    return false;
  }
  const auto& a = e->args;
  auto time_only = [](const ExprRef& x) {
    return x->stage != Stage::field && x->shape == Shape::scalar;
  };
  switch (e->op) {
    case Op::field_u:
      return true;
    case Op::neg:
      return spectral(a[0]);
    case Op::add:
    case Op::sub:
      return spectral(a[0]) && spectral(a[1]);
    case Op::mul:
      return (time_only(a[0]) && spectral(a[1])) || (time_only(a[1]) && spectral(a[0]));
    case Op::div:
      return time_only(a[1]) && spectral(a[0]);
    case Op::lap:
      return spectral(a[0]);
    case Op::div_: {
      // div(c * grad(s)) or div(grad(s)) with s spectral and c time-only;
      // div(D * grad(s)) with D = c·I, c time-only.
      const ExprRef& v = a[0];
      if (const auto tensor = match_tensor_flux(v)) {
        const auto& d = tensor->matrix->args;
        return time_only(d[0]) && d[1]->is_constant(0.0) && equal(d[0], d[2]) &&
               spectral(tensor->operand);
      }
      if (v->op == Op::grad) {
        return spectral(v->args[0]);
      }
      if (v->op == Op::mul) {
        const ExprRef& c = v->args[0]->shape == Shape::scalar ? v->args[0] : v->args[1];
        const ExprRef& g = v->args[0]->shape == Shape::scalar ? v->args[1] : v->args[0];
        return time_only(c) && g->op == Op::grad && spectral(g->args[0]);
      }
      return false;
    }
    default:
      return false;
  }
}

bool is_zero(const ExprRef& e) { return e && e->is_constant(0.0); }

}  // namespace

DriftClass classify_drift(const ExprRef& drift) {
  const Dependence d = dependence(drift);
  if (d.order < 0 || d.affine) {
    return DriftClass::linear;
  }
  switch (d.top) {
    case Top::linear_free:
      return DriftClass::semilinear;
    case Top::linear_state:
      return DriftClass::quasilinear;
    case Top::nonlinear:
      return DriftClass::nonlinear;
  }
  return DriftClass::nonlinear;
}

bool is_spectral_linear(const ExprRef& drift) { return spectral(drift); }

namespace {

void classify_terms(Process& process) {
  Classification& c = process.classification;
  c = Classification{};
  const ExprRef& drift = process.drift;
  const ExprRef& g2 = process.diffusion;
  c.drift = classify_drift(drift);
  c.drift_spectral = c.drift == DriftClass::linear && is_spectral_linear(drift);
  const bool filter_silent = process.noise.filter && is_zero(process.noise.filter);
  if (is_zero(g2) || filter_silent) {
    c.noise = NoiseClass::none;
  } else if ((g2->reads & reads_u) != 0) {
    c.noise = NoiseClass::multiplicative;
  } else {
    c.noise = NoiseClass::additive;
  }
  c.noise_spatially_varying = (g2->reads & (reads_u | reads_u0 | reads_xy)) != 0;
  c.reads_u0 = ((drift->reads | g2->reads) & reads_u0) != 0;

  const bool spectral_boundary = process.boundary.kind != BoundaryKind::dirichlet;
  const bool time_only_noise = c.noise == NoiseClass::additive && !c.noise_spatially_varying;
  c.exact_marginals = c.drift_spectral && time_only_noise && spectral_boundary;

  c.pointwise_rate = linear_rate(drift, process.file);

  if (c.noise == NoiseClass::none) return;  // the training plan's refusal says why
  if (process.semantics == Semantics::decoupled && !c.exact_marginals) {
    if (c.pointwise_rate.rate) {
      c.notes.push_back(
          "decoupled reading: the noise decays at the drift's pointwise rate c(t) = " +
          to_string(c.pointwise_rate.rate));
    } else if (!c.pointwise_rate.refusal.empty()) {
      c.notes.push_back("decoupled reading: the noise is added undamped: the drift's " +
                        c.pointwise_rate.refusal);
    }
  }
  if (c.exact_marginals && process.time.taming) {
    c.notes.emplace_back(
        "taming makes the simulated chain nonlinear; the exact objective integrates the untamed "
        "linear SDE");
  } else if (c.drift_spectral && !spectral_boundary) {
    // Under dirichlet the Laplacian is diagonal in a sine basis, not in the
    // DCT-II the closed form and Q use; only a nonzero value adds a source.
    std::string why =
        "with a dirichlet boundary lap(u) is not diagonal in the DCT-II basis that the per-mode "
        "closed form (neumann/periodic) and the noise use";
    if (process.boundary.value != 0.0) {
      why += ", and the boundary value " + to_string(constant(process.boundary.value, {})) +
             " shifts the mean (the ghost pixels feed it in at the border)";
    }
    c.notes.push_back(why + ", so the closed form does not apply");
  }
}

}  // namespace

void classify(Process& process) {
  classify_terms(process);
  process.training = plan_training(process);
}

}  // namespace spdec::lang
