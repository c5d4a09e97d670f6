// A library process bound to the compiled CPU kernels on a side × side grid,
// through the one binding function (runtime/process/bind.hpp): a process
// that declares `param size` is checked with size = side, so schedules scaled
// by the image size (α₁ = 2·size) are those of an image of this side.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "runtime/process/bind.hpp"
#include "test_support.hpp"

namespace spdec::test {

inline std::unique_ptr<runtime::ProcessModel> library_model(
    const std::string& file, std::int64_t side, const runtime::ModelOptions& options = {}) {
  runtime::Binding binding;
  binding.backend = spdec::config::Backend::compiled;
  binding.device = at::kCPU;
  binding.model = options;
  const std::filesystem::path path = std::filesystem::path(SPDEC_SOURCE_DIR) / "library" / file;
  return runtime::bind_file(path.string(), side, binding).model;
}

}  // namespace spdec::test
