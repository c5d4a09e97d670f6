// Linear spectral processes: exact Gaussian marginals (docs/design.md §2,
// specs/LANGUAGE.md §17.3). For drift = a(t)·lap(u) + c(t)·u, additive noise
// g(t) Q(t)^{1/2} dW and a neumann or periodic boundary, every mode k of the
// boundary's orthonormal basis Φ (runtime/spectral/spectral_basis.hpp) evolves on its
// own:
//
//   û_k(t) = e^{φ_k(t)} û_k(0) + N(0, v_k(t))
//   φ_k(t) = C(t) − κ_k A(t),         A(t) = ∫₀ᵗ a,  C(t) = ∫₀ᵗ c
//   v_k(t) = ∫₀ᵗ e^{2(φ_k(t) − φ_k(s))} g(s)² q_k(s) ds
//
// κ_k is the eigenvalue of the *discrete* five-point −Δ, so the solution is
// exact for the spatially discrete SDE the runtime simulates (in the limit
// dt → 0 of its Euler–Maruyama chain; taming is ignored: the untamed linear
// SDE is integrated, LANGUAGE.md §17.3).
//
// How a(t), c(t), g(t) are obtained: by probing, not symbolically. The drift
// is linear and spectral, so the reference evaluator
// (runtime/kernels/reference_kernels.hpp) applied in double at time t to the
// constant image (κ = 0) gives c(t), and applied to one non-constant basis
// image of known κ gives c(t) − a(t)κ. Both probes are checked to be eigenvectors (the residual
// must vanish to rounding), so a process that is not what the classification
// says is refused rather than silently mis-integrated. The diffusion is
// evaluated the same way and must be constant over the grid (g = g(t)).
// This uses exactly the IR the simulation runs, host params in double.
//
// Quadrature: [0, T] is cut into panels (breakpoints at the learnable knots,
// where schedules have kinks), each narrow enough that the fastest mode's
// exponential rate λ = 2|c − aκ_max| changes the integrand by at most e^1
// across a panel (λh ≤ 1), and at most T/512 wide. a, c, g² are probed at
// the 8 Gauss–Legendre nodes of each panel and represented inside the panel
// by their degree-7 interpolant: A and C are the exact integrals of it (8-point
// Gauss–Legendre is exact to degree 15), and every variance integral over a
// (part of a) panel is an 8-point Gauss–Legendre sum of the exact integrand
// e^{2(φ(t)−φ(s))} g² q. Error: for a smooth integrand the 8-point rule has
// error ~ (h/2)^16 f^(16)/16!·(…); with λh ≤ 1 and the schedules' own rates
// (≤ ~20 per unit time in library/, h ≤ T/512) this is far below double
// rounding, so the tables are exact to ~1e-13 relative (tested against
// closed forms in tests/runtime/linear_process_test.cpp).
//
// Tables: v at panel ends (every `stride` panels when the grid is large,
// capping the table at ~2M doubles); any other t integrates on demand from
// the last stored end, a handful of panels. q_k(s) is evaluated by the
// NoiseOperator at each node when the filter reads t or learnables.
//
// Thread safety: const methods may be called concurrently.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "codegen/program.hpp"
#include "lang/process.hpp"
#include "runtime/spectral/noise_operator.hpp"
#include "runtime/spectral/spectral_basis.hpp"

namespace spdec::runtime {

/// The drift and diffusion coefficients at time t, probed from the reference
/// evaluator in double: drift = a·lap(u) + c·u, diffusion = g.
struct LinearCoefficients {
  double a = 0;
  double c = 0;
  double g = 0;
};

/// p(x_s | x_t, x₀) per mode: mean = mean_x0 · x̂₀ + mean_xt · x̂_t, variance.
/// Each [N, 1, H, W] double on the CPU (spectral layout).
struct TransitionFactors {
  at::Tensor mean_x0;
  at::Tensor mean_xt;
  at::Tensor variance;
};

/// The Gaussian of a transition applied to images.
struct Transition {
  at::Tensor mean;      ///< [N, C, H, W], like x_t
  at::Tensor variance;  ///< [N, 1, H, W] double CPU, per mode
};

class LinearProcess {
 public:
  /// Throws std::invalid_argument when the process has no exact marginals
  /// (drift not spectral, noise not additive, g₂ varying in space, boundary
  /// dirichlet, …), naming the reason. `knots`: learned knot values (copied).
  LinearProcess(std::shared_ptr<const lang::Process> process, std::int64_t height,
                std::int64_t width, const KnotValues* knots = nullptr);

  [[nodiscard]] const lang::Process& process() const { return *process_; }
  [[nodiscard]] const SpectralBasis& basis() const { return noise_.basis(); }
  [[nodiscard]] const NoiseOperator& noise() const { return noise_; }
  [[nodiscard]] std::int64_t height() const { return noise_.height(); }
  [[nodiscard]] std::int64_t width() const { return noise_.width(); }
  [[nodiscard]] double end_time() const { return T_; }
  [[nodiscard]] std::size_t panels() const { return panels_.size(); }

  /// a, c, g probed at t (no interpolation).
  [[nodiscard]] LinearCoefficients coefficients(double t) const;
  /// A(t) = ∫₀ᵗ a and C(t) = ∫₀ᵗ c.
  [[nodiscard]] std::array<double, 2> integrated_coefficients(double t) const;

  /// φ_k(t), [H, W] double CPU, spectral layout.
  [[nodiscard]] at::Tensor log_mean_factor(double t) const;
  /// e^{φ_k(t)}, [H, W] double.
  [[nodiscard]] at::Tensor mean_factor(double t) const;
  /// v_k(t), [H, W] double.
  [[nodiscard]] at::Tensor variance(double t) const;
  /// v_k(t | s) = ∫ₛᵗ e^{2(φ_k(t) − φ_k(r))} g² q_k dr: the variance of X_t given X_s.
  [[nodiscard]] at::Tensor variance_between(double s, double t) const;
  /// Per-sample versions: [N, 1, H, W] double.
  [[nodiscard]] at::Tensor mean_factor(std::span<const double> t) const;
  [[nodiscard]] at::Tensor variance(std::span<const double> t) const;

  /// E[X_t | x₀] for x₀ [N, C, H, W] (any float dtype/device), per-sample times.
  [[nodiscard]] at::Tensor marginal_mean(const at::Tensor& x0, std::span<const double> t) const;
  /// Σ_t^p x, Σ_t = Φ diag(v(t)) Φᵀ (pseudo-inverse on modes with v = 0).
  [[nodiscard]] at::Tensor apply_covariance(const at::Tensor& x, std::span<const double> t,
                                            QPower power) const;
  /// X_t = E[X_t | x₀] + Σ_t^{1/2} ε, ε white [N, C, H, W] like x₀.
  [[nodiscard]] at::Tensor sample(const at::Tensor& x0, std::span<const double> t,
                                  const at::Tensor& eps) const;

  /// p(x_s | x_t, x₀) for s < t per sample, per mode (Gaussian conditioning):
  /// mean = m_s x̂₀ + (m_{t|s} v_s / v_t)(x̂_t − m_t x̂₀), variance = v_s v_{t|s} / v_t
  /// (modes with v_t = 0: mean m_s x̂₀, variance 0).
  [[nodiscard]] TransitionFactors transition_factors(std::span<const double> s,
                                                     std::span<const double> t) const;
  /// The same applied to images: x_t, x₀ [N, C, H, W].
  [[nodiscard]] Transition transition(const at::Tensor& xt, const at::Tensor& x0,
                                      std::span<const double> s, std::span<const double> t) const;

 private:
  static constexpr int kNodes = 8;
  struct Panel {
    double lo = 0;
    double hi = 0;
    std::array<double, kNodes> a{};
    std::array<double, kNodes> c{};
    std::array<double, kNodes> g2{};
    double A_lo = 0;  ///< ∫₀^lo a
    double C_lo = 0;
  };

  [[nodiscard]] std::size_t panel_index(double t) const;
  /// The interpolants of a, c, g² at s inside panel p.
  [[nodiscard]] std::array<double, 3> interpolate(const Panel& panel, double s) const;
  /// ∫_from^to of the a and c interpolants inside one panel.
  [[nodiscard]] std::array<double, 2> integrate_ac(const Panel& panel, double from,
                                                   double to) const;
  /// q_k(s), [H, W] double.
  [[nodiscard]] at::Tensor q_at(double s) const;
  /// v at `to` given v at `from` (from ≤ to), panel by panel.
  [[nodiscard]] at::Tensor advance(at::Tensor v, double from, double to) const;
  void check_times(std::span<const double> t, const char* what) const;

  std::shared_ptr<const lang::Process> process_;
  std::shared_ptr<const codegen::StencilProgram> program_;
  std::optional<KnotValues> knots_;
  NoiseOperator noise_;
  at::Tensor kappa_;  ///< [H, W] double
  at::Tensor fixed_q_;
  double T_ = 0;
  std::vector<Panel> panels_;
  std::size_t stride_ = 1;
  std::vector<at::Tensor> table_;  ///< v at panels_[i·stride].lo, then at T
  /// The probe images (constant and one mode of known κ), [2, 1, 4, 4] double.
  at::Tensor probes_;
  double probe_kappa_ = 0;
};

}  // namespace spdec::runtime
