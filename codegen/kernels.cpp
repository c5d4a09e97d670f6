#include "codegen/kernels.hpp"

namespace spdec::codegen {

const char* name(KernelKind kind) {
  switch (kind) {
    case KernelKind::drift:
      return "drift";
    case KernelKind::diffusion:
      return "diffusion";
    case KernelKind::div_sigma:
      return "div_sigma";
    case KernelKind::noise:
      return "noise";
    case KernelKind::forward_step:
      return "forward_step";
    case KernelKind::flow_steps:
      return "flow_steps";
    case KernelKind::reverse_step:
      return "reverse_step";
    case KernelKind::ode_step:
      return "ode_step";
    case KernelKind::fed_steps:
      return "fed_steps";
  }
  return "?";
}

std::string cpu_entry(KernelKind kind) { return std::string("spdec_") + name(kind); }

std::int64_t workspace_floats(const StencilProgram& program, KernelKind kind, std::int64_t N,
                              std::int64_t C, std::int64_t H, std::int64_t W) {
  const std::int64_t state = N * C * H * W;
  // Taming keeps b (to scale it by the sample's norm) and one partial sum per row.
  const std::int64_t taming = program.taming ? state + N * C * H : 0;
  switch (kind) {
    case KernelKind::forward_step:
    case KernelKind::reverse_step:
    case KernelKind::ode_step:
      return taming;
    case KernelKind::flow_steps:
      return state + taming;     // the ping-pong buffer
    case KernelKind::fed_steps:  // the ping-pong buffer, then the cached fields
      return state * (1 + static_cast<std::int64_t>(program.fed.cached.size()));
    default:
      return 0;
  }
}

CudaPlan cuda_plan(const StencilProgram& program, KernelKind kind) {
  CudaPlan plan;
  const auto stepped = [&](const char* update) {
    if (program.taming) {
      plan.zero_norms = true;
      plan.entries.emplace_back("spdec_drift_norms");
    }
    plan.entries.emplace_back(update);
  };
  switch (kind) {
    case KernelKind::forward_step:
      stepped("spdec_forward_update");
      break;
    case KernelKind::flow_steps:
      stepped("spdec_flow_update");
      break;
    case KernelKind::reverse_step:
      stepped("spdec_reverse_update");
      break;
    case KernelKind::ode_step:
      stepped("spdec_ode_update");
      break;
    case KernelKind::fed_steps:
      plan.entries = {"spdec_fed_cache", "spdec_fed_update"};
      break;
    default:
      plan.entries.push_back(cpu_entry(kind));
      break;
  }
  return plan;
}

}  // namespace spdec::codegen
