// The built-in functions of the language: name, arity, and how a call builds
// a checked expression (with shape checks that name the offending argument).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "lang/diagnostics.hpp"
#include "lang/expr.hpp"

namespace spdec::lang {

struct BuiltinCall {
  std::string_view name;
  Span call_span;
  Span name_span;
  std::vector<ExprRef> args;
  std::vector<Span> arg_spans;
  SourcePtr file;
};

struct Builtin {
  std::string_view name;
  std::size_t arity;           ///< the fewest arguments it takes
  std::size_t max_arity;       ///< the most (mat takes 3 or 4)
  std::string_view signature;  ///< for messages and the reference, e.g. "clamp(v, lo, hi)"
  /// Builds the expression, or reports and returns null.
  ExprRef (*build)(const BuiltinCall& call, Diagnostics& diagnostics);
};

[[nodiscard]] const Builtin* find_builtin(std::string_view name);
[[nodiscard]] const std::vector<Builtin>& builtins();

/// Largest |offset| accepted by shift(e, di, dj): a stencil wider than this
/// is almost certainly a mistake, and codegen sizes its halo by it.
inline constexpr int kMaxShift = 8;

}  // namespace spdec::lang
