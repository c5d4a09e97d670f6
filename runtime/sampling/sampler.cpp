#include "runtime/sampling/sampler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/sampling/sigma_clock.hpp"
#include "runtime/spectral/linear_process.hpp"

namespace spdec::runtime {
namespace {

/// Euclidean norm of each sample, [N, 1, 1, 1] in double.
at::Tensor sample_norms(const at::Tensor& x) {
  return x.to(at::kDouble).square().sum({1, 2, 3}, true).sqrt();
}

class Run {
 public:
  Run(ProcessModel& model, ScoreFunction& score, Denoiser& denoiser, const SamplerOptions& options)
      : model_(model), score_(score), denoiser_(denoiser), options_(options) {}

  at::Tensor operator()(at::Tensor x) {
    const std::vector<double> t = sampler_times(model_, options_);
    const std::int64_t n = options_.steps;
    for (std::int64_t i = 0; i < n; ++i) {
      const auto ti = t[static_cast<std::size_t>(i)];
      const auto next = t[static_cast<std::size_t>(i) + 1];
      for (std::int64_t j = 0; j < options_.corrector_steps; ++j) {
        x = correct(x, ti, draw(i, j));
      }
      x = predict(x, ti, next, draw(i, options_.corrector_steps));
      if (options_.progress) options_.progress(i + 1, n);
    }
    if (!options_.denoise) return x;
    return denoised(x, t.back()).to(at::kFloat).contiguous();
  }

 private:
  NoiseSource draw(std::int64_t level, std::int64_t slot) const {
    NoiseSource source;
    source.seed = options_.seed;
    source.sample_ids = options_.sample_ids;
    source.step = static_cast<std::uint64_t>(level * (options_.corrector_steps + 1) + slot);
    return source;
  }

  /// x̂₀, clamped to the data range when asked.
  at::Tensor denoised(const at::Tensor& x, double t) {
    const at::Tensor d = denoiser_(x, t);
    if (!(options_.clip_lo <= options_.clip_hi)) return d;
    return d.clamp(options_.clip_lo, options_.clip_hi);
  }

  at::Tensor predict(const at::Tensor& x, double t, double s, const NoiseSource& noise) {
    switch (options_.predictor) {
      case Predictor::reverse_sde:
        return model_.reverse_step(x, t, s, score_(x, t), noise);
      case Predictor::ancestral:
        return model_.ancestral_step(x, t, s, score_(x, t), noise);
      case Predictor::ode_euler:
        return (x + (s - t) * model_.velocity(x, t, score_(x, t))).contiguous();
      case Predictor::ode_heun: {
        const at::Tensor d1 = model_.velocity(x, t, score_(x, t));
        const at::Tensor trial = (x + (s - t) * d1).contiguous();
        const at::Tensor d2 = model_.velocity(trial, s, score_(trial, s));
        return (x + 0.5 * (s - t) * (d1 + d2)).contiguous();
      }
      case Predictor::posterior: {
        PosteriorStep step;
        step.eta = options_.eta;
        if (options_.x0_variance) step.x0_variance = options_.x0_variance(t);
        return model_.posterior_step(x, t, s, denoised(x, t), step, noise);
      }
      case Predictor::exponential:
        return exponential_step(x, t, s);
      case Predictor::heun:
        return heun_step(x, t, s, noise);
    }
    throw std::logic_error("sampler: unknown predictor");
  }

  /// One step of the per-mode exponential integrator of the probability-flow
  /// ODE. With λ_k = log(m_k/s_k) and h = λ(s) − λ(t) ≥ 0 per mode:
  ///   x_s = (s_s/s_t) x_t + m_s (1 − e^{−h}) D̄,
  /// D̄ = D (order 1) or the 2M extrapolation (1 + 1/2r) D − (1/2r) D_prev,
  /// r = h_prev / h, taken per mode only where r ∈ [0.5, 2] (the λ-grids of
  /// different modes cannot all be uniform); elsewhere first order.
  at::Tensor exponential_step(const at::Tensor& x, double t, double s) {
    const LinearProcess& linear = *model_.linear();
    const at::Tensor v_t = linear.variance(t);
    const at::Tensor v_s = linear.variance(s);
    const at::Tensor phi_t = linear.log_mean_factor(t);
    const at::Tensor phi_s = linear.log_mean_factor(s);
    const at::Tensor noisy = (v_t > 0).logical_and(v_s > 0);
    const at::Tensor safe_t = at::where(noisy, v_t, at::ones_like(v_t));
    const at::Tensor safe_s = at::where(noisy, v_s, at::ones_like(v_s));
    // Modes without noise follow their exact flow e^{φ(s) − φ(t)} alone.
    const at::Tensor keep = at::where(noisy, at::sqrt(safe_s / safe_t), at::exp(phi_s - phi_t));
    const at::Tensor h = at::where(
        noisy, (phi_s - phi_t) - 0.5 * (at::log(safe_s) - at::log(safe_t)), at::zeros_like(v_t));
    const at::Tensor gain = at::where(noisy, at::exp(phi_s) * -at::expm1(-h), at::zeros_like(v_t));
    const at::Tensor d = denoised(x, t);
    const SpectralBasis& basis = linear.basis();
    at::Tensor out = basis.multiply(x, keep);
    if (options_.order >= 2 && previous_d_.defined()) {
      const at::Tensor r = previous_h_ / at::where(h > 0, h, at::ones_like(h));
      const at::Tensor usable = (h > 0).logical_and(r >= 0.5).logical_and(r <= 2.0);
      const at::Tensor w = at::where(usable, 0.5 / r, at::zeros_like(r));
      out = out + basis.multiply(d, gain * (1.0 + w)) - basis.multiply(previous_d_, gain * w);
    } else {
      out = out + basis.multiply(d, gain);
    }
    previous_d_ = d;
    previous_h_ = h;
    return out.to(x.scalar_type()).contiguous();
  }

  /// EDM's stochastic Heun step (algorithm 2; algorithm 1 without churn)
  /// per mode: mode k runs EDM's ODE dx_k/dσ_k = (x_k − D_k(x))/σ_k in its
  /// own σ_k(t) = √M_k(t), i.e. dx_k/dt = −½ Ṁ_k (x_k − D_k)/M_k; EDM's
  /// Euler trial and trapezoid correction are taken in each mode's σ_k
  /// increment between the grid's times. Churn first moves x from t to t̂
  /// with σ̄(t̂) = (1 + γ) σ̄(t) by the forward process's own transition
  /// (variance M_k(t̂) − M_k(t) per mode), so with g ≡ h it is EDM's.
  at::Tensor heun_step(const at::Tensor& x, double t, double s, const NoiseSource& noise) {
    const LinearProcess& linear = *model_.linear();
    const SpectralBasis& basis = linear.basis();
    at::Tensor v_t = linear.variance(t);
    at::Tensor x_hat = x;
    const double gamma =
        std::min(options_.churn / static_cast<double>(options_.steps + 1), std::sqrt(2.0) - 1.0);
    if (gamma > 0) {
      const double t_hat =
          time_of_sigma(linear, (1.0 + gamma) * reference_sigma(linear, t), t, model_.end_time());
      const at::Tensor v_hat = linear.variance(t_hat);
      const at::Tensor z = model_.white_noise(x, noise).to(x.scalar_type());
      x_hat = (x + basis.multiply(z, at::sqrt((v_hat - v_t).clamp_min(0)))).to(x.scalar_type());
      t = t_hat;
      v_t = v_hat;
    }
    const at::Tensor sigma_t = at::sqrt(v_t);
    const at::Tensor sigma_s = at::sqrt(linear.variance(s));
    // σ_k increment over σ_k at either end; a mode without noise stays put.
    const at::Tensor gain_t =
        at::where(sigma_t > 0, (sigma_s - sigma_t) / sigma_t, at::zeros_like(sigma_t));
    const at::Tensor gain_s =
        at::where(sigma_s > 0, (sigma_s - sigma_t) / sigma_s, at::zeros_like(sigma_s));
    const at::Tensor d_t = x_hat - denoiser_(x_hat, t);
    const at::Tensor trial = (x_hat + basis.multiply(d_t, gain_t)).to(x.scalar_type());
    const at::Tensor d_s = trial - denoiser_(trial, s);
    // Modes that reach σ = 0 take EDM's Euler step alone (D at σ = 0 is undefined).
    const at::Tensor half =
        at::where(sigma_s > 0, at::full_like(gain_t, 0.5), at::ones_like(gain_t));
    return (x_hat + basis.multiply(d_t, half * gain_t) + basis.multiply(d_s, 0.5 * gain_s))
        .to(x.scalar_type())
        .contiguous();
  }

  /// One Langevin step at t preconditioned by Σ_t with the snr step rule:
  /// x ← x + ε Σ s + √(2ε) L z, ε = 2 (snr ‖z‖ / ‖Lᵀ s‖)² per sample.
  at::Tensor correct(const at::Tensor& x, double t, const NoiseSource& noise) {
    const at::Tensor s = score_(x, t);
    const Covariance sigma = model_.covariance(t, x, x);
    const at::Tensor z = model_.white_noise(x, noise);
    const at::Tensor grad_norm = sample_norms(sigma.apply_sqrt_transpose(s));
    const at::Tensor noise_norm = sample_norms(z);
    // A zero score (all samples at a mode) takes no step rather than ∞.
    const at::Tensor ratio = at::where(grad_norm > 0, noise_norm / grad_norm.clamp_min(1e-300),
                                       at::zeros_like(grad_norm));
    const at::Tensor eps = (2.0 * (options_.snr * ratio).square()).to(x.scalar_type());
    const at::Tensor step = eps * sigma.apply(s).to(x.scalar_type()) +
                            at::sqrt(2.0 * eps) * sigma.apply_sqrt(z).to(x.scalar_type());
    return (x + step).contiguous();
  }

  ProcessModel& model_;
  ScoreFunction& score_;
  Denoiser& denoiser_;
  const SamplerOptions& options_;
  at::Tensor previous_d_;  ///< exponential, order 2: D at the previous time
  at::Tensor previous_h_;  ///< and that step's λ increment per mode
};

/// The heun predictor's process: linear with zero drift and a noise level
/// that grows (checked on 33 times spread over [t₀, T]).
void check_heun(ProcessModel& model, const SamplerOptions& options) {
  if (model.linear() == nullptr) {
    throw std::invalid_argument(
        "sample.sampler = \"heun\" needs a linear variance-exploding process (EDM's process "
        "per mode); process `" +
        model.process().name + "` is " + name(model.kind()) + ": use \"posterior\"");
  }
  require_variance_exploding(
      *model.linear(), time_grid(model.end_time(), model.start_time(), 32, {}), "sample.sampler");
  if (!(options.churn >= 0)) {
    throw std::invalid_argument("sample.churn must be 0 (deterministic) or more");
  }
}

void check_options(ProcessModel& model, const at::Tensor& x_T, const SamplerOptions& options) {
  const bool dtype_ok = x_T.scalar_type() == at::kFloat ||
                        (options.predictor == Predictor::heun && x_T.scalar_type() == at::kDouble);
  if (x_T.dim() != 4 || !dtype_ok) {
    throw std::invalid_argument("sampler: x_T must be float32 [N, C, H, W]");
  }
  if (options.predictor == Predictor::heun) check_heun(model, options);
  if (options.predictor == Predictor::ancestral && !model.has_ancestral()) {
    (void)model.ancestral_step(x_T, model.end_time(), model.start_time(), x_T, {});  // throws
  }
  if (options.predictor == Predictor::posterior && !model.has_posterior()) {
    (void)model.posterior_step(x_T, model.end_time(), model.start_time(), x_T, {}, {});  // throws
  }
  if (options.predictor == Predictor::exponential && model.linear() == nullptr) {
    throw std::invalid_argument("the exponential sampler needs a linear process; process `" +
                                model.process().name + "` is " + name(model.kind()) +
                                ": use the posterior sampler");
  }
  if (options.predictor == Predictor::exponential && options.order != 1 && options.order != 2) {
    throw std::invalid_argument("sampler: the exponential integrator's order is 1 or 2");
  }
  if (options.corrector_steps < 0 || !(options.snr > 0)) {
    throw std::invalid_argument("sampler: corrector steps must be >= 0 and snr > 0");
  }
  if (!(options.eta >= 0.0 && options.eta <= 1.0)) {
    throw std::invalid_argument("sampler: eta must be in [0, 1]");
  }
}

/// The drift's fastest decay rate at the zero state at time t: the largest
/// gain of its linearisation, by power iteration from the checkerboard (the
/// finest mode, where stencil operators are strongest). 30 iterations with
/// the Rayleigh quotient: enough for a 5 % estimate when the top two
/// eigenvalues are within 10 % of each other, which is all a warning needs.
double fastest_decay_rate(ProcessModel& model, double t) {
  const std::int64_t h = model.height();
  const std::int64_t w = model.width();
  const at::Tensor rows = at::arange(h, at::kLong).remainder(2).view({h, 1});
  const at::Tensor cols = at::arange(w, at::kLong).remainder(2).view({1, w});
  at::Tensor v = (1 - 2 * (rows + cols).remainder(2)).to(at::kDouble).view({1, 1, h, w});
  const at::Tensor zero = at::zeros({1, 1, h, w}, at::kFloat);
  const at::Tensor u0 = model.process().classification.reads_u0 ? zero : at::Tensor();
  const at::Tensor base = model.kernels().drift(zero, u0, t).to(at::kDouble);
  const double amplitude = 1e-3;  // small against any conductance's scale (λ ≥ 1e-2)
  double rate = 0;
  for (int k = 0; k < 30; ++k) {
    v = v / v.norm();
    const at::Tensor probe = (amplitude * v).to(at::kFloat);
    const at::Tensor av = (model.kernels().drift(probe, u0, t).to(at::kDouble) - base) / amplitude;
    rate = std::abs((av * v).sum().item<double>());
    if (!(av.norm().item<double>() > 0)) return 0;
    v = av;
  }
  return rate;
}

}  // namespace

std::vector<double> sampler_times(const ProcessModel& model, const SamplerOptions& options) {
  const double start = options.start_time.value_or(model.end_time());
  if (!(start > model.start_time() && start <= model.end_time())) {
    throw std::invalid_argument(
        fmt::format("sampler: the start time {} is outside the process's time range ({}, {}]",
                    start, model.start_time(), model.end_time()));
  }
  if (options.predictor == Predictor::heun && model.linear() != nullptr) {
    return sigma_grid_times(*model.linear(), start, model.start_time(), options.steps,
                            options.grid.rho);
  }
  return time_grid(start, model.start_time(), options.steps, options.grid);
}

bool is_explicit(Predictor predictor) {
  return predictor == Predictor::reverse_sde || predictor == Predictor::ode_euler ||
         predictor == Predictor::ode_heun;
}

std::string stability_warning(ProcessModel& model, const SamplerOptions& options) {
  if (!is_explicit(options.predictor)) return {};
  const std::vector<double> t = sampler_times(model, options);
  double worst = 0;
  double worst_t = 0;
  for (std::size_t i = 0; i + 1 < t.size(); ++i) {
    const double product = (t[i] - t[i + 1]) * fastest_decay_rate(model, t[i]);
    if (product > worst) {
      worst = product;
      worst_t = t[i];
    }
  }
  if (!(worst > 2.0)) return {};
  const auto stable =
      static_cast<std::int64_t>(std::ceil(static_cast<double>(options.steps) * worst / 2.0));
  return fmt::format(
      "sampler {} with {} steps is unstable for process `{}`: at t = {:.3g} a step times the "
      "drift's fastest decay rate is h*Lambda = {:.2f} > 2, so an explicit step amplifies the "
      "finest modes (checkerboards, NaN). About {} steps would be stable; the posterior{} sampler "
      "is stable at any step count",
      name(options.predictor), options.steps, model.process().name, worst_t, worst, stable,
      model.linear() != nullptr ? " or exponential" : "");
}

Predictor parse_predictor(const std::string& text) {
  if (text == "reverse_sde") return Predictor::reverse_sde;
  if (text == "ode_euler") return Predictor::ode_euler;
  if (text == "ode_heun") return Predictor::ode_heun;
  if (text == "ancestral") return Predictor::ancestral;
  if (text == "posterior") return Predictor::posterior;
  if (text == "exponential") return Predictor::exponential;
  if (text == "heun") return Predictor::heun;
  throw std::invalid_argument(
      "unknown predictor `" + text +
      "` (reverse_sde, ode_euler, ode_heun, ancestral, posterior, exponential or heun)");
}

const char* name(Predictor predictor) {
  switch (predictor) {
    case Predictor::reverse_sde:
      return "reverse_sde";
    case Predictor::ode_euler:
      return "ode_euler";
    case Predictor::ode_heun:
      return "ode_heun";
    case Predictor::ancestral:
      return "ancestral";
    case Predictor::posterior:
      return "posterior";
    case Predictor::exponential:
      return "exponential";
    case Predictor::heun:
      return "heun";
  }
  return "?";
}

at::Tensor draw_prior(ProcessModel& model, const GaussianPrior& prior, std::int64_t n,
                      std::uint64_t seed, const at::Tensor& sample_ids, const at::Device& device) {
  NoiseSource source;
  source.seed = seed;
  source.step = kPriorStep;
  source.sample_ids = sample_ids;
  const at::Tensor like =
      at::empty({n, prior.channels(), prior.basis().height(), prior.basis().width()},
                at::TensorOptions().dtype(at::kFloat).device(device));
  return prior.transform_white(model.white_noise(like, source)).to(at::kFloat).contiguous();
}

at::Tensor sample(ProcessModel& model, ScoreFunction& score, const at::Tensor& x_T,
                  const SamplerOptions& options) {
  check_options(model, x_T, options);
  DenoiserFromScore denoiser(model, score);
  Run run(model, score, denoiser, options);
  return run(x_T.contiguous());
}

at::Tensor sample(ProcessModel& model, Denoiser& denoiser, const at::Tensor& x_T,
                  const SamplerOptions& options) {
  check_options(model, x_T, options);
  ScoreFromDenoiser score(model, denoiser);
  Run run(model, score, denoiser, options);
  return run(x_T.contiguous());
}

}  // namespace spdec::runtime
