// Each subcommand registers itself on the CLI11 app and sets the exit code
// it wants when it runs. 0: success, 1: the user's input was rejected.
#pragma once

#include <CLI/CLI.hpp>

namespace spdec::cli {

struct Outcome {
  int exit_code = 0;
};

void add_check_command(CLI::App& app, Outcome& outcome);
void add_fmt_command(CLI::App& app, Outcome& outcome);
void add_compile_command(CLI::App& app, Outcome& outcome);
void add_run_command(CLI::App& app, Outcome& outcome);

/// Whether to colour diagnostics on stderr (a terminal, and NO_COLOR unset).
[[nodiscard]] bool stderr_wants_color();

}  // namespace spdec::cli
