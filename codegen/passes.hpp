// The compiler's passes, one function per file (codegen/<pass>.cpp). The
// order they run in is codegen/pipeline.cpp.
#pragma once

#include <string>

#include "codegen/program.hpp"
#include "lang/process.hpp"

namespace spdec::codegen {

/// lower.cpp — discretisation (specs/LANGUAGE.md §12–15): the checked
/// drift and diffusion become per-pixel IR over ghost-mapped neighbours;
/// time-stage subexpressions become host params. Fills drift.general and
/// diffusion.general and the program's settings.
[[nodiscard]] StencilProgram lower(const lang::Process& process);

/// differentiate.cpp — ∂g₂ᵢ/∂uᵢ by symbolic differentiation of the
/// discretised g₂ (fills diffusion_du.general): the Itô correction of the
/// reverse SDE, div Σ, comes from it.
void differentiate(StencilProgram& program);

/// fed.cpp — the FED operator: decides whether the lagged drift A(frozen)u
/// (lowered by lower()) is linear in u (else fed.available = false with the
/// reason) and hoists its frozen-only subexpressions (the conductances)
/// into cached fields computed once per cycle.
void prepare_fed(StencilProgram& program);

/// specialize_interior.cpp — the interior form of every root: `at` chains
/// collapse to offsets from the pixel and indicators fold to 0 or 1, which is
/// where ∂g₂/∂u is proven zero for central differences. Sets reach_x/reach_y.
void specialize_interior(StencilProgram& program);

/// verify.cpp — structural invariants of a program; an empty string when it
/// is well formed, else what is wrong (a compiler bug, never a user error).
[[nodiscard]] std::string verify(const StencilProgram& program);

}  // namespace spdec::codegen
