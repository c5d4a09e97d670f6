// Emitters: IR → C++ (host JIT) and CUDA (NVRTC) source. Both share the
// per-pixel function emitter (emit_pixel.cpp); the targets differ only in
// their preamble, qualifiers and loops (emit_cpp.cpp, emit_cuda.cpp).
//
// No text of the `.spde` reaches the output: names are fixed, the process
// name appears only mangled (mangle()), and numbers are printed from their
// values.
#pragma once

#include <string>

#include "codegen/program.hpp"

namespace spdec::codegen {

struct HoistPlan;

/// How one target spells what the per-pixel code needs.
struct Dialect {
  std::string function_qualifier;  ///< e.g. "static inline" or "static __device__ __forceinline__"
  std::string math_prefix;         ///< "__builtin_" (host, no headers) or "" (CUDA)
};

/// A function `float <name>(const float* u, const float* u0, const float* P,
/// long long sample, int C, int H, int W, int c, int x, int y)` computing
/// `root` at pixel (x, y) of channel c of the sample starting at `sample`.
/// `interior`: the root is an interior form (at() only above leaves) and the
/// function is valid only inside the program's reach. `fed_fields`: the
/// function also takes kFedFieldParams after u0 (the frozen state v and the
/// cached fields K, field j at K + j·KS), for the FED roots. `hoists` (an
/// interior form's plan, codegen/hoist.hpp): its nodes are read from the row
/// buffers h<class>_<row> (rows dy_min.. of the class), extra trailing
/// parameters (hoist_params).
[[nodiscard]] std::string emit_pixel_function(const StencilProgram& program, NodeId root,
                                              bool interior, const std::string& name,
                                              const Dialect& dialect, bool fed_fields = false,
                                              const HoistPlan* hoists = nullptr);

/// The row-buffer parameters of an interior function planned with `plan`
/// (", const float* SPDEC_RESTRICT h0_0, ..."), and the matching arguments.
[[nodiscard]] std::string hoist_params(const HoistPlan& plan);
[[nodiscard]] std::string hoist_args(const HoistPlan& plan);

/// The extra parameters of a FED pixel or row function, and their names.
inline constexpr const char* kFedFieldParams =
    "const float* SPDEC_RESTRICT v, const float* SPDEC_RESTRICT K, long long KS";
inline constexpr const char* kFedFieldArgs = "v, K, KS";

/// The process name as an identifier fragment: [A-Za-z0-9_] only.
[[nodiscard]] std::string mangle(const std::string& name);

/// A float literal for a double value (inf and NaN through SPDEC_INF/SPDEC_NAN).
[[nodiscard]] std::string float_literal(double value);

/// The statement that takes the decoupled reading's noise variance `var`
/// (an lvalue) over one step h with g² = `g2` (C++ expressions): with
/// c = `params`[program.noise_rate_param] and z = 2hc, the exact integral of
/// dv = (2c v + g²) dt with c and g frozen over the step,
///   var = e^z var + h φ(z) g2,  φ(z) = (e^z − 1)/z (φ(0) = 1),
/// so that a VP-type process (g² = −2c) keeps v = 1 at any step size; or
/// `var += h g2` when the program has no noise rate. Ends with `;` or `}`.
[[nodiscard]] std::string variance_step(const StencilProgram& program, const Dialect& dialect,
                                        const std::string& var, const std::string& h,
                                        const std::string& g2, const std::string& params);

/// "// <what>: line L, column C of the process source\n" (numbers only).
[[nodiscard]] std::string origin_comment(const StencilProgram& program, const char* what,
                                         lang::Span span);

[[nodiscard]] std::string emit_cpp(const StencilProgram& program);
[[nodiscard]] std::string emit_cuda(const StencilProgram& program);

}  // namespace spdec::codegen
