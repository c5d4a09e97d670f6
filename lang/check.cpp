#include "lang/check.hpp"

#include "lang/classify.hpp"
#include "lang/lint.hpp"
#include "lang/parser.hpp"

namespace spdec::lang {

std::optional<Process> check_module(const ast::Module& module, const CheckOptions& options,
                                    Diagnostics& diagnostics) {
  Usage usage;
  std::optional<Process> process = elaborate(module, options.overrides, diagnostics, &usage);
  if (!process) {
    // What the file never mentions is unused whatever the errors are.
    if (options.warnings) report_unused(module.file, usage, diagnostics);
    return std::nullopt;
  }
  classify(*process);
  if (options.warnings) {
    lint(*process, module, usage, diagnostics);
  }
  return process;
}

std::optional<Process> check_source(const SourcePtr& file, const CheckOptions& options,
                                    Diagnostics& diagnostics) {
  const std::optional<ast::Module> module = parse(file, diagnostics);
  if (!module) {
    return std::nullopt;
  }
  return check_module(*module, options, diagnostics);
}

std::optional<Process> check_file(const std::string& path, const CheckOptions& options,
                                  Diagnostics& diagnostics) {
  const SourcePtr file = load_source(path, diagnostics);
  if (!file) {
    return std::nullopt;
  }
  return check_source(file, options, diagnostics);
}

std::optional<Process> check_file_for_side(const std::string& path, long side, CheckOptions options,
                                           Diagnostics& diagnostics) {
  const SourcePtr file = load_source(path, diagnostics);
  if (!file) return std::nullopt;
  const std::optional<ast::Module> module = parse(file, diagnostics);
  if (!module) return std::nullopt;
  std::erase_if(options.overrides, [](const ParamOverride& o) { return o.name == kSizeParam; });
  Diagnostics first;
  std::optional<Process> as_declared = check_module(*module, options, first);
  const Param* size = as_declared ? as_declared->find_param(kSizeParam) : nullptr;
  if (size == nullptr || size->value == static_cast<double>(side)) {
    for (const Diagnostic& d : first.all()) diagnostics.report(d);
    return as_declared;
  }
  options.overrides.push_back({kSizeParam, std::to_string(side)});
  return check_module(*module, options, diagnostics);
}

}  // namespace spdec::lang
