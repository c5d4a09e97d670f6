// A process bound to its kernels on an H × W grid: the one interface that
// training objectives and samplers see, whatever the semantics (docs/design.md §2).
//
//                 marginal of X_t | x₀                 reverse dynamics
//   linear        exact, per mode (linear_process.hpp)  kernels' reverse_step /
//                                                       ode_step; exact ancestral
//   decoupled     Φ_t(x₀) + N(0, Σ̄_t), Φ by flow_steps   Tweedie drift: b at
//                                                       x̂ = x + Σ̄ s, never at x
//   sde           the tamed EM chain with noise;        kernels' reverse_step /
//                 Gaussian only over its last step       ode_step (eq. 20)
//
// Which one a process gets: `semantics decoupled` → decoupled; otherwise
// exact marginals (check's classification) → linear; otherwise sde.
//
// Noise: every draw is the Philox stream of (seed, sample id, step) through
// ProcessKernels::noise, made correlated by Q^{1/2}; so a sample's noise does
// not depend on the batch it is in.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "lang/process.hpp"
#include "runtime/config/choices.hpp"
#include "runtime/kernels/process_kernels.hpp"
#include "runtime/spectral/covariance.hpp"
#include "runtime/spectral/noise_operator.hpp"

namespace spdec::runtime {

class LinearProcess;

/// A draw X_t = mean + L ε at per-sample times, with what an objective needs.
struct Perturbed {
  at::Tensor xt;    ///< [N, C, H, W]
  at::Tensor mean;  ///< linear, decoupled: E[X_t | x₀]; sde: the last step's mean
  at::Tensor eps;   ///< the white ε of the Gaussian part
  /// Covariance of the Gaussian part, with L: of X_t | x₀ (linear,
  /// decoupled), of X_t | X_{t−h} over the chain's last step h (sde).
  std::optional<Covariance> covariance;
};

/// X_t given x₀ as per-mode scales in the noise basis: mode k of X_t is
/// m_k x₀,k + s_k ε_k. Exact for linear processes; for decoupled semantics
/// m = 1 (the flow Φ_t(x₀) stands in for x₀: a conditioning choice, not an
/// identity) and s² the per-mode noise variance. Each [N, 1, H, W],
/// double on the CPU.
struct ModeScales {
  at::Tensor m;
  at::Tensor s2;
};

/// The exact posterior step x_s ~ q(x_s | x_t, x₀ = x̂₀) generalised like
/// DDIM (Song, Meng & Ermon, Denoising Diffusion Implicit Models, 2021,
/// arXiv:2010.02502): eta = 1 is the ancestral posterior, eta = 0 the
/// deterministic step. x0_variance: Γ_k = E Var(x₀,k | x_t) per mode
/// ([C, H, W] or [N, C, H, W] double CPU, spectral layout; undefined: 0), the
/// variance the point estimate x̂₀ drops, added back through the
/// coefficient of x̂₀ (Bao et al., Analytic-DPM, 2022, arXiv:2201.06503).
struct PosteriorStep {
  double eta = 1.0;
  at::Tensor x0_variance;
};

/// Which model a process gets is the process's training plan
/// (lang/training_plan.hpp): its `model`.
using lang::ModelKind;

/// How a decoupled model computes its flow Φ_t (ignored by the others):
/// `process.flow` (runtime/config/choices.hpp) — explicit_steps: flow_steps on
/// the process's Δt grid (tamed, as the chain); fed: Fast Explicit Diffusion
/// cycles (runtime/kernels/fed_flow.hpp; untamed); automatic: fed where the
/// drift admits it and Σ̄_t is the same for every x₀.
using FlowScheme = config::Flow;

struct ModelOptions {
  FlowScheme flow = FlowScheme::explicit_steps;
  std::int64_t fed_cycles = 80;  ///< whole FED cycles on [0, T]
};

class ProcessModel {
 public:
  /// Throws std::invalid_argument when the process's training plan refuses
  /// it (no noise: nothing to reverse), or when the process declares
  /// `param size` and its value is not the grid's side (`size` is the image
  /// side: bind_process, runtime/process/bind.hpp, sets it).
  ProcessModel(std::shared_ptr<const lang::Process> process,
               std::unique_ptr<ProcessKernels> kernels, std::int64_t height, std::int64_t width);
  ProcessModel(const ProcessModel&) = delete;
  ProcessModel& operator=(const ProcessModel&) = delete;
  ProcessModel(ProcessModel&&) = delete;
  ProcessModel& operator=(ProcessModel&&) = delete;
  virtual ~ProcessModel() = default;

  [[nodiscard]] virtual ModelKind kind() const = 0;
  [[nodiscard]] const lang::Process& process() const { return *process_; }
  [[nodiscard]] ProcessKernels& kernels() { return *kernels_; }
  [[nodiscard]] const NoiseOperator& noise() const { return noise_; }
  [[nodiscard]] std::int64_t height() const { return noise_.height(); }
  [[nodiscard]] std::int64_t width() const { return noise_.width(); }
  [[nodiscard]] double end_time() const { return process_->time.T; }
  [[nodiscard]] double start_time() const { return process_->time.t0; }
  /// What, beyond the process, defines X_t given x₀: "" for the process's own
  /// discretisation, e.g. "fed 80" when a decoupled flow uses FED cycles (it
  /// enters the checkpoint's process fingerprint).
  [[nodiscard]] virtual std::string flow_scheme() const { return {}; }
  /// The linear process when kind() == linear, else null.
  [[nodiscard]] virtual const LinearProcess* linear() const { return nullptr; }

  /// X_t for data x₀ [N, C, H, W] at per-sample times t (N of them, in
  /// [0, T]); noise.step is ignored (each model numbers its own draws).
  [[nodiscard]] virtual Perturbed perturb(const at::Tensor& x0, std::span<const double> t,
                                          const NoiseSource& noise) = 0;

  /// Σ_t of X_t | x₀ for states like x at t. x0_hat: the denoised estimate,
  /// for processes whose Σ depends on x₀ (reads u0). For sde semantics the
  /// chain has no closed-form marginal (nor a Gaussian one, unless it is
  /// untamed, linear and additive): the small-t value t g(t, x)² Q (exact
  /// after one EM step), a scale for preconditioning and denoising only.
  [[nodiscard]] virtual Covariance covariance(double t, const at::Tensor& x,
                                              const at::Tensor& x0_hat) = 0;
  /// Tweedie's estimate E[x₀ | X_t = x] from the score at t (linear: exact;
  /// decoupled: x + Σ̄ s = E[Φ_t(x₀) | x], ≈ x₀ at small t; sde: one EM
  /// step inverted).
  [[nodiscard]] virtual at::Tensor denoise(const at::Tensor& x, double t,
                                           const at::Tensor& score) = 0;
  /// One reverse-SDE Euler–Maruyama step from t down to s < t.
  [[nodiscard]] virtual at::Tensor reverse_step(const at::Tensor& x, double t, double s,
                                                const at::Tensor& score,
                                                const NoiseSource& noise) = 0;
  /// The probability-flow velocity dx/dt (forward time) at t.
  [[nodiscard]] virtual at::Tensor velocity(const at::Tensor& x, double t,
                                            const at::Tensor& score) = 0;
  /// Exact ancestral steps x_s ~ p(x_s | x_t, x̂₀) (linear processes only).
  [[nodiscard]] virtual bool has_ancestral() const { return false; }
  [[nodiscard]] virtual at::Tensor ancestral_step(const at::Tensor& x, double t, double s,
                                                  const at::Tensor& score,
                                                  const NoiseSource& noise);

  /// The per-mode scales of X_t | x₀ at per-sample times (see ModeScales);
  /// throws for models without them (sde semantics).
  [[nodiscard]] virtual ModeScales mode_scales(std::span<const double> t);
  /// The score −Σ_t⁻¹(x − E[X_t | x₀ = x̂₀]) from a denoised estimate x̂₀
  /// (exact for a linear process when x̂₀ = E[x₀ | x]; decoupled: the flow
  /// of x̂₀ stands for E[Φ_t(x₀) | x]).
  [[nodiscard]] virtual at::Tensor score_from_denoised(const at::Tensor& x, double t,
                                                       const at::Tensor& x0_hat);
  /// Whether posterior_step is available (linear and decoupled models).
  [[nodiscard]] virtual bool has_posterior() const { return false; }
  /// One step from t down to s < t of the exact posterior given x̂₀: never
  /// divides by the forward multiplier and never steps the drift backwards,
  /// so it is stable at any step size.
  [[nodiscard]] virtual at::Tensor posterior_step(const at::Tensor& x, double t, double s,
                                                  const at::Tensor& x0_hat,
                                                  const PosteriorStep& options,
                                                  const NoiseSource& noise);

  /// ζ = Q^{1/2}ξ for the Philox draw `noise`, like x ([N, C, H, W]).
  [[nodiscard]] at::Tensor correlated_noise(const at::Tensor& like, const NoiseSource& noise,
                                            double t);
  /// The white ξ of the draw `noise`.
  [[nodiscard]] at::Tensor white_noise(const at::Tensor& like, const NoiseSource& noise);

 protected:
  /// u0 for the kernels: x0_hat when the process reads u0, else undefined.
  [[nodiscard]] at::Tensor kernel_u0(const at::Tensor& x0_hat) const;
  /// diag(Q) at t as float [H, W] on x's device (undefined for white Q).
  [[nodiscard]] at::Tensor noise_diagonal(double t, const at::Tensor& like) const;
  /// What reverse_step / ode_step take for Σ s: s (white), else Q(g s).
  [[nodiscard]] at::Tensor score_term(const at::Tensor& x, const at::Tensor& u0, double t,
                                      const at::Tensor& score);
  /// b / (1 + Δt ‖b‖^γ) with the process's Δt: the velocity of the tamed
  /// chain (b itself when the process is not tamed).
  [[nodiscard]] at::Tensor tamed_drift(const at::Tensor& x, const at::Tensor& u0, double t);

  std::shared_ptr<const lang::Process> process_;
  std::unique_ptr<ProcessKernels> kernels_;
  NoiseOperator noise_;
};

/// The model for a checked process: the kind its training plan names
/// (process.training.model). The kernels are
/// the process's (make_kernels); `knots` are learned knot values (copied).
[[nodiscard]] std::unique_ptr<ProcessModel> make_process_model(
    std::shared_ptr<const lang::Process> process, std::unique_ptr<ProcessKernels> kernels,
    std::int64_t height, std::int64_t width, const KnotValues* knots = nullptr,
    const ModelOptions& options = {});

}  // namespace spdec::runtime
