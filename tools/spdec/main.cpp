// spdec: check, format, compile and run stochastic-PDE generative models.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <spdec/build_info.hpp>

#include "lang/diagnostics.hpp"
#include "tools/spdec/commands.hpp"

namespace spdec::cli {

bool stderr_wants_color() {
  const char* no_color = std::getenv("NO_COLOR");
  return isatty(STDERR_FILENO) != 0 && (no_color == nullptr || *no_color == '\0');
}

}  // namespace spdec::cli

namespace {

int run(int argc, char** argv) {
  CLI::App app{"spdec: score-based generative models whose forward process is a stochastic PDE",
               "spdec"};
  app.set_version_flag("--version", std::string("spdec ") + SPDEC_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Run `spdec COMMAND --help` for a command's options. The language is described in "
      "specs/LANGUAGE.md.");
  spdec::cli::Outcome outcome;
  spdec::cli::add_check_command(app, outcome);
  spdec::cli::add_fmt_command(app, outcome);
#ifdef SPDEC_HAVE_CODEGEN
  spdec::cli::add_compile_command(app, outcome);
#endif
  spdec::cli::add_run_command(app, outcome);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0; usage errors are
    // the user's mistake: exit 1 like any other rejected input.
    return app.exit(e) == 0 ? 0 : 1;
  }
  return outcome.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing escapes: an internal error is a bug we report, with exit 1.
  try {
    return run(argc, argv);
  } catch (const spdec::lang::InternalError& e) {
    std::cerr << "spdec: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "spdec: error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "spdec: error: unknown exception\n";
  }
  return 1;
}
