// A library process bound to the compiled CPU kernels on a side × side grid
// (the process's own `size` param left alone: the grid is the model's).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "codegen/pipeline.hpp"
#include "lang/check.hpp"
#include "lang/diagnostics.hpp"
#include "runtime/kernels/process_kernels.hpp"
#include "runtime/process/process_model.hpp"
#include "test_support.hpp"

namespace spdec::test {

inline std::unique_ptr<runtime::ProcessModel> library_model(
    const std::string& file, std::int64_t side, const runtime::ModelOptions& options = {}) {
  auto process = std::make_shared<const lang::Process>(check_library_file("library/" + file));
  auto program = std::make_shared<const codegen::StencilProgram>(codegen::build_program(*process));
  return runtime::make_process_model(process,
                                     runtime::make_compiled_kernels(process, program, at::kCPU),
                                     side, side, nullptr, options);
}

/// The same with the process's `size` param (where it has one) set to the
/// grid's side, so that schedules scaled by the image size (α₁ = 2·size)
/// are those of an image of this side.
inline std::unique_ptr<runtime::ProcessModel> sized_library_model(
    const std::string& file, std::int64_t side, const runtime::ModelOptions& options = {}) {
  lang::Diagnostics diagnostics;
  lang::CheckOptions check;
  if (check_library_file("library/" + file).find_param("size") != nullptr) {
    check.overrides.push_back({"size", std::to_string(side)});
  }
  const std::filesystem::path path = std::filesystem::path(SPDEC_SOURCE_DIR) / "library" / file;
  auto checked = lang::check_file(path.string(), check, diagnostics);
  INFO(lang::render_all(diagnostics));
  REQUIRE(checked.has_value());
  auto process = std::make_shared<const lang::Process>(std::move(*checked));
  auto program = std::make_shared<const codegen::StencilProgram>(codegen::build_program(*process));
  return runtime::make_process_model(process,
                                     runtime::make_compiled_kernels(process, program, at::kCPU),
                                     side, side, nullptr, options);
}

}  // namespace spdec::test
