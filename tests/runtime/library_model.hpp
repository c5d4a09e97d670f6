// A library process bound to the compiled CPU kernels on a side × side grid
// (the process's own `size` param left alone: the grid is the model's).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "codegen/pipeline.hpp"
#include "runtime/process_kernels.hpp"
#include "runtime/process_model.hpp"
#include "test_support.hpp"

namespace spdec::test {

inline std::unique_ptr<runtime::ProcessModel> library_model(const std::string& file,
                                                            std::int64_t side) {
  auto process = std::make_shared<const lang::Process>(check_library_file("library/" + file));
  auto program = std::make_shared<const codegen::StencilProgram>(codegen::build_program(*process));
  return runtime::make_process_model(
      process, runtime::make_compiled_kernels(process, program, at::kCPU), side, side);
}

}  // namespace spdec::test
