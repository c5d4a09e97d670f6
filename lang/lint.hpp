// Warnings for processes that check but cannot serve generation well:
// W101 no noise, W102 explicit step unstable, W103 unused definitions,
// W105 taming on a linear process, W106 decoupled semantics not exact.
#pragma once

#include <optional>
#include <string>

#include "lang/ast.hpp"
#include "lang/diagnostics.hpp"
#include "lang/elaborate.hpp"
#include "lang/process.hpp"

namespace spdec::lang {

/// The largest diffusivity k of the drift's flux terms (div(k grad u),
/// k·lap(u)) over [t0, T], taken at a flat state, and when it occurs.
struct StabilityBound {
  double max_diffusivity = 0;
  double at_time = 0;
  /// 4·dt·max k: the explicit five-point step is stable when this is <= 1.
  [[nodiscard]] double ratio(double dt) const { return 4.0 * dt * max_diffusivity; }
};

[[nodiscard]] std::optional<StabilityBound> stability_bound(const Process& process);

/// W102's words when the explicit step is unstable (4·dt·max k > 1): what
/// `spdec check` warns, and what a blown-up forward simulation quotes.
struct UnstableStep {
  std::string message;
  std::string hint;
};
[[nodiscard]] std::optional<UnstableStep> unstable_step(const Process& process);

void lint(const Process& process, const ast::Module& module, const Usage& usage,
          Diagnostics& diagnostics);

/// W103 for each unused definition: part of lint, and what check reports
/// alone for a file with errors (only what the file never mentions).
void report_unused(const SourcePtr& file, const Usage& usage, Diagnostics& diagnostics);

}  // namespace spdec::lang
