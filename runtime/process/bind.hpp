// Process → program → kernels → model, in one place: a checked process is
// lowered to its stencil program, compiled for a backend and a device, and
// bound to a height × width grid as the model its training plan names
// (lang/training_plan.hpp). Every caller — the run jobs, the example, the
// benches and the tests — binds through here, so the rule "a process's
// `param size` is the image side" has one owner: bind_file checks the file
// with size = side, and the model refuses any other size.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>

#include "codegen/program.hpp"
#include "lang/check.hpp"
#include "lang/process.hpp"
#include "runtime/config/choices.hpp"
#include "runtime/process/process_model.hpp"

namespace spdec::runtime {

struct Binding {
  config::Backend backend = config::Backend::automatic;  ///< process.backend
  at::Device device = at::kCPU;
  std::int64_t height = 0;
  std::int64_t width = 0;
  ModelOptions model;                 ///< process.flow, process.fed_cycles
  const KnotValues* knots = nullptr;  ///< learned schedule knots (copied), or none
};

struct BoundProcess {
  std::shared_ptr<const lang::Process> process;
  std::shared_ptr<const codegen::StencilProgram> program;
  std::unique_ptr<ProcessModel> model;  ///< owns the kernels
};

/// Binds a checked process; throws std::invalid_argument when the model
/// refuses it (its training plan's refusal, or a `size` that is not the
/// grid's side).
[[nodiscard]] BoundProcess bind_process(std::shared_ptr<const lang::Process> process,
                                        const Binding& binding);

/// Checks a `.spde` file for a side × side grid (size = side where the
/// process declares it; `options` add other overrides) and binds it there;
/// throws std::invalid_argument with the rendered diagnostics when the file
/// does not check.
[[nodiscard]] BoundProcess bind_file(const std::string& path, std::int64_t side, Binding binding,
                                     const lang::CheckOptions& options = {});

}  // namespace spdec::runtime
