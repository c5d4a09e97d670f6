// The time-stage values of a program at time t: every HostParam evaluated in
// double on the host (schedules, ddt, learnable knots).
#include <array>

#include "lang/evaluate.hpp"
#include "runtime/kernels/process_kernels.hpp"

namespace spdec::runtime {

namespace {

lang::EvalContext host_context(const lang::Process& process, double t, const KnotValues* knots) {
  lang::EvalContext context{t};
  context.learnables = &process.learnables;
  context.knot_values = knots;
  return context;
}

}  // namespace

double host_value(const lang::Process& process, const lang::ExprRef& expr, double t,
                  const KnotValues* knots) {
  return lang::evaluate_scalar(expr, host_context(process, t, knots));
}

std::vector<double> host_params(const lang::Process& process,
                                const codegen::StencilProgram& program, double t,
                                const KnotValues* knots) {
  const lang::EvalContext context = host_context(process, t, knots);
  std::vector<double> values;
  values.reserve(program.params.size());
  for (const codegen::HostParam& param : program.params) {
    values.push_back(lang::evaluate_scalar(param.expr, context));
  }
  return values;
}

FedParams fed_host_params(const lang::Process& process, const codegen::StencilProgram& program,
                          const FedCycle& cycle, const KnotValues* knots) {
  FedParams out;
  const double length = cycle.t_end - cycle.t_begin;
  if (length <= 0) {
    out.op = host_params(process, program, cycle.t_begin, knots);
  } else {
    // 5-point Gauss–Legendre on [-1, 1] (exact for polynomials of degree 9).
    constexpr std::array<double, 5> nodes{0.0, -0.5384693101056831, 0.5384693101056831,
                                          -0.9061798459386640, 0.9061798459386640};
    constexpr std::array<double, 5> weights{0.5688888888888889, 0.4786286704993665,
                                            0.4786286704993665, 0.2369268850561891,
                                            0.2369268850561891};
    out.op.assign(program.params.size(), 0.0);
    for (std::size_t q = 0; q < nodes.size(); ++q) {
      const double t = cycle.t_begin + 0.5 * length * (1.0 + nodes.at(q));
      const std::vector<double> row = host_params(process, program, t, knots);
      for (std::size_t i = 0; i < row.size(); ++i) out.op[i] += 0.5 * weights.at(q) * row[i];
    }
  }
  out.steps.reserve(cycle.taus.size());
  double t = cycle.t_begin;
  for (const double tau : cycle.taus) {
    out.steps.push_back(host_params(process, program, t + 0.5 * tau, knots));
    t += tau;
  }
  return out;
}

}  // namespace spdec::runtime
