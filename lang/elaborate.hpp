// Semantic analysis, one pass over the module: declarations, parameter
// overrides, name resolution, inlining of schedules and user functions,
// shapes, stages, constant folding, and the validation of every setting.
// Classification and warnings are later passes (classify.hpp, lint.hpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lang/ast.hpp"
#include "lang/diagnostics.hpp"
#include "lang/process.hpp"

namespace spdec::lang {

/// `--param NAME=VALUE`: the value is an expression in the language.
struct ParamOverride {
  std::string name;
  std::string value;
};

/// Usage facts that the lint pass turns into W103 (unused definitions).
struct Usage {
  struct Unused {
    std::string what;  ///< "parameter", "schedule", "function"
    std::string name;
    Span span;
  };
  std::vector<Unused> unused;
};

/// Largest expression (counted as a tree after inlining) spdec accepts:
/// doubling functions nested 30 deep must be an error, not a hang.
inline constexpr std::size_t kMaxExpressionNodes = 200000;

[[nodiscard]] std::optional<Process> elaborate(const ast::Module& module,
                                               const std::vector<ParamOverride>& overrides,
                                               Diagnostics& diagnostics, Usage* usage = nullptr);

}  // namespace spdec::lang
