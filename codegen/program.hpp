// A process lowered to the stencil IR: what the passes transform, the
// emitters print and the reference evaluator (runtime/) computes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "codegen/ir.hpp"
#include "lang/process.hpp"

namespace spdec::codegen {

/// A time-stage value the host computes in double once per step (from t and
/// the learnable knots) and passes to the kernels as `params[slot]`.
struct HostParam {
  lang::ExprRef expr;
  std::string text;  ///< its source form, for IR dumps and comments
};

/// One per-pixel, per-channel expression and its interior specialisation.
struct Root {
  NodeId general = kNoNode;   ///< valid everywhere (ghost rules applied)
  NodeId interior = kNoNode;  ///< valid where no `at` chain leaves the grid
};

/// The operator of Fast Explicit Diffusion with a lagged conductance
/// (codegen/fed.cpp): A(v)u, the drift with the conductance k of every
/// flux-form div(k * grad(e)) read at the frozen state v instead of u (the
/// grad part keeps reading u), so that A(v)u is linear in u for a fixed v.
struct FedOperator {
  /// The lagged drift is linear (homogeneous) in u, so FED applies; when
  /// false, `refusal` says why and the runtime keeps the explicit flow.
  bool available = false;
  std::string refusal;
  Root lagged;  ///< A(v)u reading u and `frozen` (the fed pass's input)
  Root step;    ///< the same, its frozen-only subexpressions read from cached fields
  /// The hoisted frozen-only subexpressions (the conductances), computed
  /// once per cycle into cached field j = index.
  std::vector<Root> cached;
};

struct StencilProgram {
  std::string process_name;
  /// Where drift and diffusion were written, for messages (never pasted
  /// into generated code, which names only line and column numbers).
  lang::SourcePtr file;
  lang::Span drift_span;
  lang::Span diffusion_span;
  Graph graph;
  Root drift;         ///< b(t, u)
  Root diffusion;     ///< g₂(t, u) per pixel
  Root diffusion_du;  ///< ∂g₂ᵢ/∂uᵢ (same pixel and channel), for div Σ
  FedOperator fed;    ///< the lagged operator of the fed_steps kernel
  std::vector<HostParam> params;
  /// The params slot of c(t), the rate at which the decoupled reading's
  /// noise decays (lang/linear_rate.hpp), or -1: flow_steps and fed_steps
  /// then take their variance over a step h as e^{2hc}·var + h φ(2hc) g²,
  /// φ(z) = (e^z − 1)/z (emit.hpp, variance_step), instead of var + h g².
  /// Set only for processes the decoupled model trains.
  std::int32_t noise_rate_param = -1;

  // Where the interior specialisation holds: columns [reach_x, W − reach_x),
  // rows [reach_y, H − reach_y). The sum of |offsets| along the longest chain.
  std::int32_t reach_x = 0;
  std::int32_t reach_y = 0;

  lang::BoundaryKind boundary = lang::BoundaryKind::neumann;
  double boundary_value = 0;  ///< dirichlet ghost value
  bool coupled_channels = false;
  bool reads_u0 = false;
  /// Q = I: white noise without a filter, so kernels draw ξ themselves.
  bool noise_identity = true;
  double dt = 0;
  std::optional<double> taming;  ///< γ; nullopt = plain Euler–Maruyama

  [[nodiscard]] std::vector<NodeId> roots() const;
};

/// Human-readable dump of a program (the `--emit ir` format): params, then
/// each root as a numbered SSA listing.
[[nodiscard]] std::string print(const StencilProgram& program);

/// Structural hash of everything that changes generated code.
[[nodiscard]] std::uint64_t program_hash(const StencilProgram& program);

}  // namespace spdec::codegen
