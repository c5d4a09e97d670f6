// The front end's pipeline, readable in one place: load → parse → elaborate
// (names, shapes, stages, folding) → classify → lint.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lang/ast.hpp"
#include "lang/diagnostics.hpp"
#include "lang/elaborate.hpp"
#include "lang/process.hpp"

namespace spdec::lang {

struct CheckOptions {
  std::vector<ParamOverride> overrides;
  bool warnings = true;
};

/// Checks a parsed module (elaborate → classify → lint); nullopt when there
/// were errors (reported). Lets a caller that needs the AST parse only once.
[[nodiscard]] std::optional<Process> check_module(const ast::Module& module,
                                                  const CheckOptions& options,
                                                  Diagnostics& diagnostics);
/// Checks source text; nullopt when there were errors (reported).
[[nodiscard]] std::optional<Process> check_source(const SourcePtr& file,
                                                  const CheckOptions& options,
                                                  Diagnostics& diagnostics);
/// Loads and checks a `.spde` file.
[[nodiscard]] std::optional<Process> check_file(const std::string& path,
                                                const CheckOptions& options,
                                                Diagnostics& diagnostics);
/// check_file for a side × side grid: a process that declares `param size`
/// is checked with size = side (replacing any override of it in `options`).
[[nodiscard]] std::optional<Process> check_file_for_side(const std::string& path, long side,
                                                         CheckOptions options,
                                                         Diagnostics& diagnostics);

}  // namespace spdec::lang
