#include "runtime/process/bind.hpp"

#include <stdexcept>
#include <utility>

#include "codegen/pipeline.hpp"
#include "lang/diagnostics.hpp"
#include "runtime/kernels/process_kernels.hpp"

namespace spdec::runtime {

BoundProcess bind_process(std::shared_ptr<const lang::Process> process, const Binding& binding) {
  if (!process) throw std::invalid_argument("bind_process: no process");
  BoundProcess bound;
  bound.process = std::move(process);
  bound.program =
      std::make_shared<const codegen::StencilProgram>(codegen::build_program(*bound.process));
  bound.model = make_process_model(
      bound.process, make_kernels(binding.backend, bound.process, bound.program, binding.device),
      binding.height, binding.width, binding.knots, binding.model);
  return bound;
}

BoundProcess bind_file(const std::string& path, std::int64_t side, Binding binding,
                       const lang::CheckOptions& options) {
  lang::Diagnostics diagnostics;
  std::optional<lang::Process> checked =
      lang::check_file_for_side(path, static_cast<long>(side), options, diagnostics);
  if (!checked) throw std::invalid_argument(lang::render_all(diagnostics, {false}));
  binding.height = side;
  binding.width = side;
  return bind_process(std::make_shared<const lang::Process>(std::move(*checked)), binding);
}

}  // namespace spdec::runtime
