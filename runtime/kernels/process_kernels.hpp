// How the runtime sees a process: through this kernel interface only, whatever
// computes it — the generated kernels (compiled_kernels.cpp: host JIT or
// NVRTC) or the reference evaluator (reference_kernels.cpp: the same IR with
// LibTorch ops, any device, differentiable). The formulas of each kernel are
// in codegen/kernels.hpp.
//
// Tensors are float32, contiguous, [N, C, H, W] on one device; `u0` may be
// undefined when the process does not read it. Time-stage values are
// evaluated on the host in double at the given t (host_params) and passed to
// the kernels in float.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codegen/program.hpp"
#include "runtime/config/choices.hpp"

namespace spdec::runtime {

/// Learned knot values per learnable schedule (nullptr: the spec's init values).
using KnotValues = std::vector<std::vector<double>>;

/// A time-stage expression of the process at time t, in double, as the
/// host evaluates every param (learned knot values, or the spec's init values).
[[nodiscard]] double host_value(const lang::Process& process, const lang::ExprRef& expr, double t,
                                const KnotValues* knots = nullptr);

/// The program's params at time t, in double: one per HostParam slot.
[[nodiscard]] std::vector<double> host_params(const lang::Process& process,
                                              const codegen::StencilProgram& program, double t,
                                              const KnotValues* knots = nullptr);

/// One cycle of Fast Explicit Diffusion (runtime/kernels/fed_flow.hpp builds them):
/// from t_begin to t_end in taus.size() explicit steps of the lagged
/// operator, Σ taus = t_end − t_begin (in double; the kernels get floats).
struct FedCycle {
  double t_begin = 0;
  double t_end = 0;
  std::vector<double> taus;
};

/// The host params of a FED cycle. The operator must be one operator for the
/// whole cycle (FED's inner steps exceed the explicit limit and only the
/// cycle is stable), so its time-stage values are frozen too: `op` holds
/// each param's mean over the cycle, (1/Θ)∫ p(t) dt by 5-point Gauss–
/// Legendre (the value at t_begin when Θ = 0). For a drift that is a time
/// factor times a fixed operator (heat: α1(t)·lap u) this makes Θ·A exactly
/// ∫A dt, so the cycle is the exact semigroup of the linear case; for
/// Perona–Malik the error is second order in Θ, below the first-order error
/// of the lagged conductance. `steps[k]` holds the values at step k's
/// midpoint t_begin + Σ_{i<k} τᵢ + τ_k/2, for g (the variance's midpoint sum).
struct FedParams {
  std::vector<double> op;
  std::vector<std::vector<double>> steps;
};
[[nodiscard]] FedParams fed_host_params(const lang::Process& process,
                                        const codegen::StencilProgram& program,
                                        const FedCycle& cycle, const KnotValues* knots = nullptr);

/// Where ζ = Q^{1/2}ξ comes from in a stochastic step: given (`correlated`,
/// already multiplied by Q^{1/2}: the runtime's spectral operator), or drawn
/// by the kernel from the Philox stream of (seed, sample id, step) — white,
/// only valid when Q = I.
struct NoiseSource {
  std::uint64_t seed = 0;
  std::uint64_t step = 0;
  at::Tensor sample_ids;  ///< int64 [N] (undefined: 0..N-1)
  at::Tensor correlated;  ///< [N, C, H, W] (undefined: draw white ξ)
};

class ProcessKernels {
 public:
  ProcessKernels() = default;
  ProcessKernels(const ProcessKernels&) = delete;
  ProcessKernels& operator=(const ProcessKernels&) = delete;
  ProcessKernels(ProcessKernels&&) = delete;
  ProcessKernels& operator=(ProcessKernels&&) = delete;
  virtual ~ProcessKernels() = default;

  /// "compiled-cpu", "compiled-cuda" or "reference".
  [[nodiscard]] virtual std::string backend() const = 0;

  [[nodiscard]] virtual at::Tensor drift(const at::Tensor& u, const at::Tensor& u0, double t) = 0;
  [[nodiscard]] virtual at::Tensor diffusion(const at::Tensor& u, const at::Tensor& u0,
                                             double t) = 0;
  /// ∂Σᵢᵢ/∂uᵢ = 2 g ∂g/∂u · q, q = diag(Q) ([H, W], undefined = 1).
  [[nodiscard]] virtual at::Tensor div_sigma(const at::Tensor& u, const at::Tensor& u0, double t,
                                             const at::Tensor& qdiag) = 0;
  /// The white Philox stream ξ for a [N, C, H, W] state.
  [[nodiscard]] virtual at::Tensor noise(at::IntArrayRef shape, const NoiseSource& source,
                                         const at::Device& device) = 0;
  /// One tamed Euler–Maruyama step from t to t + dt.
  [[nodiscard]] virtual at::Tensor forward_step(const at::Tensor& u, const at::Tensor& u0, double t,
                                                double dt, const NoiseSource& noise) = 0;
  /// `steps` noise-free steps from t (step k at t + k dt). When `variance` is
  /// given (a [N, C, H, W] tensor), adds Σ_k dt g(t_k, u_k)² to it.
  [[nodiscard]] virtual at::Tensor flow_steps(const at::Tensor& u, const at::Tensor& u0, double t,
                                              double dt, std::int64_t steps,
                                              at::Tensor* variance = nullptr) = 0;
  /// One FED cycle (codegen/kernels.hpp, fed_steps): the conductances frozen
  /// at `frozen` (undefined: u), then u ← u + τ_k A(frozen)u for each τ_k of
  /// the cycle, untamed. When `variance` is given, adds Σ_k τ_k g(t_k, u_k)²
  /// with t_k the steps' midpoints. Throws std::invalid_argument when the
  /// program has no FED operator (program.fed.available is false: the
  /// refusal is in the message).
  [[nodiscard]] virtual at::Tensor fed_steps(const at::Tensor& u, const at::Tensor& frozen,
                                             const at::Tensor& u0, const FedCycle& cycle,
                                             at::Tensor* variance = nullptr) = 0;
  /// One reverse-SDE step from t to t − dt. score_term: s when Q = I, else Q(g s).
  [[nodiscard]] virtual at::Tensor reverse_step(const at::Tensor& u, const at::Tensor& u0, double t,
                                                double dt, const at::Tensor& score_term,
                                                const at::Tensor& qdiag,
                                                const NoiseSource& noise) = 0;
  /// The probability-flow velocity (forward time) at t.
  [[nodiscard]] virtual at::Tensor ode_velocity(const at::Tensor& u, const at::Tensor& u0, double t,
                                                double dt, const at::Tensor& score_term,
                                                const at::Tensor& qdiag) = 0;
};

struct KernelsOptions {
  const KnotValues* knots = nullptr;  ///< must outlive the kernels
};

/// The generated kernels for `device` (CPU: host JIT; CUDA: NVRTC + driver).
/// Throws std::runtime_error naming what is missing (no compiler, no driver).
[[nodiscard]] std::unique_ptr<ProcessKernels> make_compiled_kernels(
    std::shared_ptr<const lang::Process> process,
    std::shared_ptr<const codegen::StencilProgram> program, const at::Device& device,
    KernelsOptions options = {});

/// The reference evaluator (any device, differentiable).
[[nodiscard]] std::unique_ptr<ProcessKernels> make_reference_kernels(
    std::shared_ptr<const lang::Process> process,
    std::shared_ptr<const codegen::StencilProgram> program, KernelsOptions options = {});

/// process.backend's kernels (auto: compiled when a compiler for the device
/// is present, else reference, said once on stderr).
[[nodiscard]] std::unique_ptr<ProcessKernels> make_kernels(
    config::Backend backend, std::shared_ptr<const lang::Process> process,
    std::shared_ptr<const codegen::StencilProgram> program, const at::Device& device,
    KernelsOptions options = {});

}  // namespace spdec::runtime
