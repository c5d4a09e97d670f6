// Linear processes (docs/design.md §2): the exact per-mode marginals of
// runtime/spectral/linear_process.hpp for training and denoising, the generated
// kernels for the reverse-SDE and probability-flow steps, and the exact
// ancestral step.
#include <stdexcept>
#include <utility>
#include <vector>

#include "runtime/process/model_kinds.hpp"
#include "runtime/spectral/linear_process.hpp"

namespace spdec::runtime {
namespace {

class LinearModel final : public ProcessModel {
 public:
  LinearModel(std::shared_ptr<const lang::Process> process, std::unique_ptr<ProcessKernels> kernels,
              std::int64_t height, std::int64_t width, const KnotValues* knots)
      : ProcessModel(process, std::move(kernels), height, width),
        linear_(std::move(process), height, width, knots) {}

  [[nodiscard]] ModelKind kind() const override { return ModelKind::linear; }
  [[nodiscard]] const LinearProcess* linear() const override { return &linear_; }

  Perturbed perturb(const at::Tensor& x0, std::span<const double> t,
                    const NoiseSource& noise) override {
    Perturbed p;
    NoiseSource draw = noise;
    draw.step = 0;
    p.eps = white_noise(x0, draw);
    p.mean = linear_.marginal_mean(x0, t).to(at::kFloat);
    p.covariance.emplace(linear_.basis(), linear_.variance(t));
    p.xt = (p.mean + p.covariance->apply_sqrt(p.eps)).to(at::kFloat).contiguous();
    return p;
  }

  Covariance covariance(double t, const at::Tensor& /*x*/, const at::Tensor& /*x0_hat*/) override {
    return {linear_.basis(), linear_.variance(t)};
  }

  /// E[x₀ | x] = M_t⁻¹ (x + Σ_t s) per mode (Tweedie; exact for a linear process).
  at::Tensor denoise(const at::Tensor& x, double t, const at::Tensor& score) override {
    const at::Tensor y = x.to(at::kDouble) + covariance(t, x, {}).apply(score.to(at::kDouble));
    return linear_.basis().multiply(y, at::exp(-linear_.log_mean_factor(t))).to(x.scalar_type());
  }

  at::Tensor reverse_step(const at::Tensor& x, double t, double s, const at::Tensor& score,
                          const NoiseSource& noise) override {
    NoiseSource draw = noise;
    if (!this->noise().is_identity()) draw.correlated = correlated_noise(x, noise, t);
    return kernels().reverse_step(x, {}, t, t - s, score_term(x, {}, t, score),
                                  noise_diagonal(t, x), draw);
  }

  at::Tensor velocity(const at::Tensor& x, double t, const at::Tensor& score) override {
    return kernels().ode_velocity(x, {}, t, process().time.dt, score_term(x, {}, t, score),
                                  noise_diagonal(t, x));
  }

  ModeScales mode_scales(std::span<const double> t) override {
    return {linear_.mean_factor(t), linear_.variance(t)};
  }

  /// −Φ diag(1/v_t) Φᵀ (x − M_t x̂₀); modes without noise (v_t = 0) get 0.
  at::Tensor score_from_denoised(const at::Tensor& x, double t, const at::Tensor& x0_hat) override {
    const SpectralBasis& basis = linear_.basis();
    const at::Tensor v = linear_.variance(t);
    const at::Tensor inverse = at::where(v > 0, 1.0 / v.clamp_min(1e-300), at::zeros_like(v));
    const at::Tensor residual = x - basis.multiply(x0_hat, linear_.mean_factor(t));
    return (-basis.multiply(residual, inverse)).to(x.scalar_type()).contiguous();
  }

  [[nodiscard]] bool has_posterior() const override { return true; }

  /// Per mode, with a = m_t / m_s (from the difference of logs), b² the
  /// variance added between s and t, σ̃² = v_s b² / v_t the posterior variance:
  ///   x_s = m_s x̂₀ + √(v_s − η²σ̃²) (x_t − m_t x̂₀)/√v_t + η σ̃ ξ
  /// with Γ's share (m_s − √(v_s − η²σ̃²) m_t/√v_t)² Γ added to the variance.
  /// Every factor is ≤ 1 in size for any s < t: no step size is unstable.
  at::Tensor posterior_step(const at::Tensor& x, double t, double s, const at::Tensor& x0_hat,
                            const PosteriorStep& options, const NoiseSource& noise) override {
    if (!(s < t)) throw std::invalid_argument("posterior step: needs s < t");
    const at::Tensor log_m_s = linear_.log_mean_factor(s);
    const at::Tensor log_m_t = linear_.log_mean_factor(t);
    const at::Tensor v_t = linear_.variance(t);
    const at::Tensor v_s = linear_.variance(s);
    const at::Tensor b2 = linear_.variance_between(s, t);
    const at::Tensor carries = v_t > 0;
    const at::Tensor safe_v_t = at::where(carries, v_t, at::ones_like(v_t));
    const at::Tensor tilde = at::where(carries, v_s * b2 / safe_v_t, at::zeros_like(v_t));
    const double eta2 = options.eta * options.eta;
    const at::Tensor keep = at::where(
        carries, at::sqrt((v_s - eta2 * tilde).clamp_min(0.0) / safe_v_t), at::zeros_like(v_t));
    const at::Tensor m_s = at::exp(log_m_s);
    const at::Tensor x0_factor = m_s - keep * at::exp(log_m_t);
    at::Tensor variance = eta2 * tilde;
    if (options.x0_variance.defined()) {
      variance = variance + x0_factor.square() * options.x0_variance.to(at::kDouble);
    }
    const SpectralBasis& basis = linear_.basis();
    at::Tensor out = basis.multiply(x, keep) + basis.multiply(x0_hat, x0_factor);
    if (variance.gt(0).any().item<bool>()) {
      out = out + basis.multiply(white_noise(x, noise), at::sqrt(variance));
    }
    return out.to(x.scalar_type()).contiguous();
  }

  [[nodiscard]] bool has_ancestral() const override { return true; }

  /// x_s ~ p(x_s | x_t, x̂₀) with E[M_t x₀ | x_t] = x_t + Σ_t s (Tweedie), per
  /// mode, r = m_s / m_t:
  ///   mean = r (x̂ + v_t ŝ) − (v_s / r) ŝ,   variance = v_s v_{t|s} / v_t
  /// (the Gaussian conditioning of linear_process.hpp with m_t x̂₀ replaced by
  /// its posterior mean; written without M_t⁻¹, which underflows for the
  /// heat equation's fast modes).
  at::Tensor ancestral_step(const at::Tensor& x, double t, double s, const at::Tensor& score,
                            const NoiseSource& noise) override {
    if (!(s < t)) throw std::invalid_argument("ancestral step: needs s < t");
    const at::Tensor r = at::exp(linear_.log_mean_factor(s) - linear_.log_mean_factor(t));
    const at::Tensor v_t = linear_.variance(t);
    const at::Tensor v_s = linear_.variance(s);
    const at::Tensor v_ts = linear_.variance_between(s, t);
    const at::Tensor carries = v_t > 0;
    const at::Tensor score_factor = at::where(carries, r * v_t - v_s / r, at::zeros_like(v_t));
    const at::Tensor variance = at::where(
        carries, v_s * v_ts / at::where(carries, v_t, at::ones_like(v_t)), at::zeros_like(v_t));
    // In x's dtype: the factors are O(1) per step (r = e^{φ(s) − φ(t)} ≈ 1 +
    // O(h)), so float32 loses nothing the sampler could resolve.
    const SpectralBasis& basis = linear_.basis();
    const at::Tensor xi = white_noise(x, noise);
    return (basis.multiply(x, r) + basis.multiply(score, score_factor) +
            basis.multiply(xi, at::sqrt(variance)))
        .contiguous();
  }

 private:
  LinearProcess linear_;
};

}  // namespace

std::unique_ptr<ProcessModel> make_linear_model(std::shared_ptr<const lang::Process> process,
                                                std::unique_ptr<ProcessKernels> kernels,
                                                std::int64_t height, std::int64_t width,
                                                const KnotValues* knots) {
  return std::make_unique<LinearModel>(std::move(process), std::move(kernels), height, width,
                                       knots);
}

}  // namespace spdec::runtime
