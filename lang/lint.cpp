#include "lang/lint.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "lang/evaluate.hpp"
#include "lang/tensor.hpp"

namespace spdec::lang {

namespace {

constexpr int kStabilitySamples = 1000;  // time points sampled on [t0, T]

std::string format_number(double v) {
  std::ostringstream out;
  out << std::setprecision(4) << v;
  return out.str();
}

bool has_stencil(const ExprRef& e) { return (e->reads & reads_stencil) != 0; }

/// Collects the diffusivity of every flux term, carrying the multiplicative
/// coefficient from the root (k·lap(u), c·div(k·grad(u)), -lap(u)/τ, ...);
/// a tensor flux div(D·grad(u)) counts with the diffusivity of its stencil
/// (lang/tensor.hpp, LANGUAGE.md §13.6).
void collect_diffusivities(const ExprRef& e, const ExprRef& scale, std::vector<ExprRef>& out) {
  const auto& a = e->args;
  switch (e->op) {
    case Op::lap:
      out.push_back(scale);
      return;
    case Op::div_: {
      const ExprRef& v = a[0];
      if (const auto tensor = match_tensor_flux(v)) {
        out.push_back(binary(Op::mul, scale, tensor_diffusivity(tensor->matrix, e->span), e->span));
      } else if (v->op == Op::grad) {
        out.push_back(scale);
      } else if (v->op == Op::mul) {
        const ExprRef& k = v->args[0]->shape == Shape::scalar ? v->args[0] : v->args[1];
        out.push_back(binary(Op::mul, scale, k, e->span));
      }
      return;
    }
    case Op::neg:
    case Op::add:
    case Op::sub:
      for (const ExprRef& arg : a) {
        collect_diffusivities(arg, scale, out);
      }
      return;
    case Op::mul:
      if (!has_stencil(a[0])) {
        collect_diffusivities(a[1], binary(Op::mul, scale, a[0], e->span), out);
      } else if (!has_stencil(a[1])) {
        collect_diffusivities(a[0], binary(Op::mul, scale, a[1], e->span), out);
      }
      return;
    case Op::div:
      if (!has_stencil(a[1])) {
        collect_diffusivities(a[0], binary(Op::div, scale, a[1], e->span), out);
      }
      return;
    default:
      return;
  }
}

const ast::Expr* statement_value(const ast::Module& module, bool drift) {
  for (const ast::Statement& s : module.statements) {
    if (drift) {
      if (const auto* d = std::get_if<ast::DriftDecl>(&s.node)) {
        return d->value.get();
      }
    } else {
      if (const auto* d = std::get_if<ast::DiffusionDecl>(&s.node)) {
        return d->value.get();
      }
    }
  }
  return nullptr;
}

}  // namespace

std::optional<StabilityBound> stability_bound(const Process& process) {
  std::vector<ExprRef> diffusivities;
  collect_diffusivities(process.drift, constant(1.0), diffusivities);
  if (diffusivities.empty()) {
    return std::nullopt;
  }
  StabilityBound bound;
  const double t0 = process.time.t0;
  const double T = process.time.T;
  for (int i = 0; i <= kStabilitySamples; ++i) {
    const double t = t0 + (T - t0) * i / kStabilitySamples;
    EvalContext context{t};
    context.learnables = &process.learnables;
    double k = 0;
    for (const ExprRef& d : diffusivities) {
      k += std::fabs(evaluate_scalar(d, context));  // terms add at one pixel
    }
    if (std::isnan(k)) {
      continue;
    }
    if (k > bound.max_diffusivity) {
      bound.max_diffusivity = k;
      bound.at_time = t;
    }
  }
  return bound;
}

std::optional<UnstableStep> unstable_step(const Process& process) {
  const auto bound = stability_bound(process);
  if (!bound) return std::nullopt;
  const double ratio = bound->ratio(process.time.dt);
  if (ratio <= 1.0) return std::nullopt;
  return UnstableStep{"the explicit step may be unstable: 4·dt·max k = " + format_number(ratio) +
                          " > 1 (max diffusivity k = " + format_number(bound->max_diffusivity) +
                          " at t = " + format_number(bound->at_time) +
                          ", dt = " + format_number(process.time.dt) + ")",
                      "take dt <= " + format_number(1.0 / (4.0 * bound->max_diffusivity)) +
                          " (bound taken at a flat state, where Perona–Malik diffusivities peak)"};
}

void report_unused(const SourcePtr& file, const Usage& usage, Diagnostics& diagnostics) {
  for (const Usage::Unused& u : usage.unused) {
    diagnostics.warning("W103", file, u.span, u.what + " `" + u.name + "` is never used",
                        "remove it, or use it in the drift, diffusion or a schedule");
  }
}

void lint(const Process& process, const ast::Module& module, const Usage& usage,
          Diagnostics& diagnostics) {
  const SourcePtr& file = process.file;
  const ast::Expr* drift = statement_value(module, true);
  const ast::Expr* diffusion = statement_value(module, false);
  const Classification& c = process.classification;

  if (c.noise == NoiseClass::none && diffusion != nullptr) {
    diagnostics.warning(
        "W101", file, diffusion->span,
        "this process adds no noise, so it cannot serve generation: its reverse "
        "process is undefined and no score exists",
        "use it to visualise the drift; give `diffusion` a positive value to train");
  }
  if (const auto unstable = unstable_step(process); unstable && drift != nullptr) {
    diagnostics.warning("W102", file, drift->span, unstable->message, unstable->hint);
  }
  report_unused(file, usage, diagnostics);
  if (c.exact_marginals && process.time.taming) {
    diagnostics.warning("W105", file, drift != nullptr ? drift->span : Span{},
                        "taming makes this linear process nonlinear when simulated; exact "
                        "training integrates the untamed SDE",
                        "write `taming = off` to simulate exactly what is trained");
  }
  if (process.semantics == Semantics::decoupled && c.noise == NoiseClass::multiplicative &&
      (process.noise.correlation_length > 0 || process.noise.filter)) {
    diagnostics.warning("W106", file, diffusion != nullptr ? diffusion->span : Span{},
                        "decoupled semantics with multiplicative correlated noise is not exact: "
                        "its covariance is not per pixel",
                        "use white noise (correlation_length = 0) or `semantics sde`");
  }
}

}  // namespace spdec::lang
