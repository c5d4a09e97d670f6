// The time-stage values of a program at time t: every HostParam evaluated in
// double on the host (schedules, ddt, learnable knots).
#include "lang/evaluate.hpp"
#include "runtime/process_kernels.hpp"

namespace spdec::runtime {

std::vector<double> host_params(const lang::Process& process,
                                const codegen::StencilProgram& program, double t,
                                const KnotValues* knots) {
  lang::EvalContext context{t};
  context.learnables = &process.learnables;
  context.knot_values = knots;
  std::vector<double> values;
  values.reserve(program.params.size());
  for (const codegen::HostParam& param : program.params) {
    values.push_back(lang::evaluate_scalar(param.expr, context));
  }
  return values;
}

}  // namespace spdec::runtime
