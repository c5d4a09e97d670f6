// JSON views of checked processes and diagnostics (for --json and run dirs).
#pragma once

#include <nlohmann/json.hpp>

#include "lang/diagnostics.hpp"
#include "lang/process.hpp"

namespace spdec::cli {

[[nodiscard]] nlohmann::json to_json(const lang::Process& process);
[[nodiscard]] nlohmann::json to_json(const lang::Diagnostics& diagnostics);

/// The classification in words, as `spdec check` prints it.
[[nodiscard]] std::string describe(const lang::Process& process);

}  // namespace spdec::cli
