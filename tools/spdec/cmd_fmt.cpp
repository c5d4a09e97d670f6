#include "tools/spdec/commands.hpp"

namespace spdec::cli {

void add_fmt_command(CLI::App& app, Outcome& outcome) {
  (void)app;
  (void)outcome;
}

}  // namespace spdec::cli
