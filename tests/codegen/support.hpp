// Helpers for the compiler tests: a checked process and its program from text.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "codegen/pipeline.hpp"
#include "lang/check.hpp"

namespace spdec::test {

inline lang::Process checked(const std::string& text) {
  lang::Diagnostics diagnostics;
  auto file = std::make_shared<const lang::SourceFile>("test.spde", text);
  auto process = lang::check_source(file, lang::CheckOptions{}, diagnostics);
  INFO(lang::render_all(diagnostics, {false}));
  REQUIRE(process.has_value());
  return *process;
}

inline lang::Process checked_file(const std::string& path) {
  lang::Diagnostics diagnostics;
  auto process = lang::check_file(path, lang::CheckOptions{}, diagnostics);
  INFO(lang::render_all(diagnostics, {false}));
  REQUIRE(process.has_value());
  return *process;
}

inline codegen::StencilProgram program_of(const std::string& text) {
  return codegen::build_program(checked(text));
}

/// "process p" with a drift and diffusion and extra settings.
inline std::string spec(const std::string& drift, const std::string& diffusion = "1",
                        const std::string& extra = "") {
  return "process p\ndrift = " + drift + "\ndiffusion = " + diffusion + "\n" + extra +
         "\ntime T = 1, dt = 0.01\n";
}

}  // namespace spdec::test
