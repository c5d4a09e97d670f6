// libFuzzer target for the `.spde` front end.
//
// Every input must be answered with diagnostics: no crash, no sanitizer
// report, no hang and no exception (exceptions are let through on purpose,
// so libFuzzer reports them as a crash). On inputs that parse, the
// formatter's contract is checked as well:
//   * format(m) parses again without errors,
//   * ast::same_structure(parse(format(m)), m),
//   * format is idempotent: format(parse(format(m))) == format(m).
// A violation calls abort(). Regressions live in tests/lang/corpus/regressions.
//
// Run by hand (see cmake/SpdecFuzzing.cmake):
//   build-fuzz/tests/fuzz/fuzz_frontend -dict=tests/fuzz/spde.dict -max_len=4096 \
//     build-fuzz/fuzz-corpus/fuzz_frontend tests/fuzz/corpus library tests/lang/corpus/good
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "lang/ast.hpp"
#include "lang/check.hpp"
#include "lang/diagnostics.hpp"
#include "lang/format.hpp"
#include "lang/parser.hpp"
#include "lang/source.hpp"

// The formatter's round-trip checks (-DSPDEC_FUZZ_FORMAT_ROUNDTRIP=0 fuzzes
// the checker alone).
#ifndef SPDEC_FUZZ_FORMAT_ROUNDTRIP
#define SPDEC_FUZZ_FORMAT_ROUNDTRIP 1
#endif

namespace {

using namespace spdec::lang;

[[noreturn]] void fail(const char* what, const std::string& text) {
  std::fprintf(stderr, "fuzz_frontend: %s\n--- text ---\n%s\n--- end ---\n", what, text.c_str());
  std::abort();
}

std::optional<ast::Module> parse_text(const std::string& text, Diagnostics& diagnostics) {
  auto file = std::make_shared<const SourceFile>("fuzz.spde", text);
  return parse(file, diagnostics);
}

void check_format_contract(const ast::Module& module) {
  const std::string formatted = format(module);
  Diagnostics diagnostics;
  const std::optional<ast::Module> reparsed = parse_text(formatted, diagnostics);
  if (!reparsed || diagnostics.has_errors()) fail("format output does not parse", formatted);
  if (!ast::same_structure(*reparsed, module)) fail("format changes the AST", formatted);
  const std::string again = format(*reparsed);
  if (again != formatted) fail("format is not idempotent", formatted + "\n--- again ---\n" + again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto file = std::make_shared<const SourceFile>("fuzz.spde", text);

  // One parse serves the checker (twice) and the formatter: parsing is most of
  // the front end's time, and check_source is exactly parse + check_module.
  Diagnostics parse_diagnostics;
  const std::optional<ast::Module> module = parse(file, parse_diagnostics);
  if (!module) return 0;
  {
    Diagnostics diagnostics;
    (void)check_module(*module, CheckOptions{}, diagnostics);
  }
  {
    // The same text with a `--param size=...` override taken from its first bytes.
    CheckOptions options;
    options.overrides.push_back(ParamOverride{"size", text.substr(0, 16)});
    Diagnostics diagnostics;
    (void)check_module(*module, options, diagnostics);
  }
#if SPDEC_FUZZ_FORMAT_ROUNDTRIP
  if (!parse_diagnostics.has_errors()) check_format_contract(*module);
#endif
  return 0;
}
