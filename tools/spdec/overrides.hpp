// `--param NAME=VALUE` items of the command line.
#pragma once

#include <string>
#include <vector>

#include "lang/diagnostics.hpp"
#include "lang/elaborate.hpp"

namespace spdec::cli {

/// Splits each item at its first `=`; a malformed item is E051.
[[nodiscard]] std::vector<lang::ParamOverride> parse_overrides(
    const std::vector<std::string>& items, lang::Diagnostics& diagnostics);

}  // namespace spdec::cli
