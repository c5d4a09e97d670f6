#include "codegen/pipeline.hpp"

#include <chrono>
#include <stdexcept>

#include "codegen/emit.hpp"
#include "codegen/passes.hpp"

namespace spdec::codegen {
namespace {

template <typename Pass>
void timed(const char* pass_name, StencilProgram& program, const PipelineOptions& options,
           std::vector<PassTiming>* timings, Pass&& pass) {
  const auto start = std::chrono::steady_clock::now();
  pass(program);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (timings != nullptr) timings->push_back({pass_name, elapsed.count()});
  if (options.after_pass) options.after_pass(pass_name, program);
}

}  // namespace

StencilProgram build_program(const lang::Process& process, const PipelineOptions& options,
                             std::vector<PassTiming>* timings) {
  StencilProgram program;
  // 1. discretisation: the process becomes per-pixel IR.
  timed("lower", program, options, timings, [&](StencilProgram& p) { p = lower(process); });
  // 2. ∂g₂/∂u for the Itô correction div Σ.
  timed("differentiate", program, options, timings, differentiate);
  // 3. the FED operator: linear in u with lagged conductances? hoist them.
  timed("fed", program, options, timings, prepare_fed);
  // 4. the interior form of every root (where the ghost rules vanish).
  timed("specialize_interior", program, options, timings, specialize_interior);
  // 5. invariants.
  std::string problems;
  timed("verify", program, options, timings,
        [&](const StencilProgram& p) { problems = verify(p); });
  if (!problems.empty()) {
    throw std::logic_error("spdec internal error: the IR verifier failed (please report):\n" +
                           problems + print(program));
  }
  return program;
}

const char* name(Target target) { return target == Target::cpu ? "cpu" : "cuda"; }

std::string emit(const StencilProgram& program, Target target) {
  return target == Target::cpu ? emit_cpp(program) : emit_cuda(program);
}

}  // namespace spdec::codegen
