// spdec check FILE.spde [--json] [--param NAME=VALUE ...]
#include <iostream>
#include <string>
#include <vector>

#include "lang/check.hpp"
#include "tools/spdec/commands.hpp"
#include "tools/spdec/overrides.hpp"
#include "tools/spdec/process_json.hpp"

namespace spdec::cli {

namespace {

struct CheckArgs {
  std::string file;
  std::vector<std::string> params;
  bool json = false;
  bool no_warnings = false;
};

int run_check(const CheckArgs& args) {
  lang::Diagnostics diagnostics;
  lang::CheckOptions options;
  options.overrides = parse_overrides(args.params, diagnostics);
  options.warnings = !args.no_warnings;
  std::optional<lang::Process> process;
  if (!diagnostics.has_errors()) {
    process = lang::check_file(args.file, options, diagnostics);
  }
  std::cerr << lang::render_all(diagnostics, {stderr_wants_color()});
  if (args.json) {
    nlohmann::json out = process ? to_json(*process) : nlohmann::json{{"valid", false}};
    out["diagnostics"] = to_json(diagnostics);
    std::cout << out.dump(2) << "\n";
  } else if (process) {
    std::cout << describe(*process);
  }
  return process ? 0 : 1;
}

}  // namespace

void add_check_command(CLI::App& app, Outcome& outcome) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand(
      "check", "Parse, check and classify a .spde process; explain which training is exact");
  cmd->add_option("file", args->file, "the .spde file")->required();
  cmd->add_option("-p,--param", args->params, "override a parameter: NAME=VALUE (repeatable)");
  cmd->add_flag("--json", args->json, "print the result as JSON on stdout");
  cmd->add_flag("--no-warnings", args->no_warnings, "report errors only");
  cmd->callback([args, &outcome] { outcome.exit_code = run_check(*args); });
}

}  // namespace spdec::cli
