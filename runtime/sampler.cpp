#include "runtime/sampler.hpp"

#include <stdexcept>

namespace spdec::runtime {
namespace {

/// Euclidean norm of each sample, [N, 1, 1, 1] in double.
at::Tensor sample_norms(const at::Tensor& x) {
  return x.to(at::kDouble).square().sum({1, 2, 3}, true).sqrt();
}

class Run {
 public:
  Run(ProcessModel& model, ScoreFunction& score, const SamplerOptions& options)
      : model_(model), score_(score), options_(options) {}

  at::Tensor operator()(at::Tensor x) {
    const std::vector<double> t =
        time_grid(model_.end_time(), model_.start_time(), options_.steps, options_.grid);
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
    const double t0 = t.back();
    return model_.denoise(x, t0, score_(x, t0)).to(at::kFloat).contiguous();
  }

 private:
  NoiseSource draw(std::int64_t level, std::int64_t slot) const {
    NoiseSource source;
    source.seed = options_.seed;
    source.sample_ids = options_.sample_ids;
    source.step = static_cast<std::uint64_t>(level * (options_.corrector_steps + 1) + slot);
    return source;
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
    }
    throw std::logic_error("sampler: unknown predictor");
  }

  /// One preconditioned Langevin step at t with the snr step rule.
  at::Tensor correct(const at::Tensor& x, double t, const NoiseSource& noise) {
    const NoiseOperator& q = model_.noise();
    const at::Tensor s = score_(x, t);
    const at::Tensor z = model_.white_noise(x, noise);
    const at::Tensor grad_norm = sample_norms(q.apply_sqrt(s, t));
    const at::Tensor noise_norm = sample_norms(z);
    // A zero score (all samples at a mode) takes no step rather than ∞.
    const at::Tensor ratio = at::where(grad_norm > 0, noise_norm / grad_norm.clamp_min(1e-300),
                                       at::zeros_like(grad_norm));
    const at::Tensor eps = (2.0 * (options_.snr * ratio).square()).to(x.scalar_type());
    const at::Tensor step = eps * q.apply(s, t).to(x.scalar_type()) +
                            at::sqrt(2.0 * eps) * q.apply_sqrt(z, t).to(x.scalar_type());
    return (x + step).contiguous();
  }

  ProcessModel& model_;
  ScoreFunction& score_;
  const SamplerOptions& options_;
};

}  // namespace

Predictor parse_predictor(const std::string& text) {
  if (text == "reverse_sde") return Predictor::reverse_sde;
  if (text == "ode_euler") return Predictor::ode_euler;
  if (text == "ode_heun") return Predictor::ode_heun;
  if (text == "ancestral") return Predictor::ancestral;
  throw std::invalid_argument("unknown predictor `" + text +
                              "` (reverse_sde, ode_euler, ode_heun or ancestral)");
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
  if (x_T.dim() != 4 || x_T.scalar_type() != at::kFloat) {
    throw std::invalid_argument("sampler: x_T must be float32 [N, C, H, W]");
  }
  if (options.predictor == Predictor::ancestral && !model.has_ancestral()) {
    (void)model.ancestral_step(x_T, model.end_time(), model.start_time(), x_T, {});  // throws
  }
  if (options.corrector_steps < 0 || !(options.snr > 0)) {
    throw std::invalid_argument("sampler: corrector steps must be >= 0 and snr > 0");
  }
  Run run(model, score, options);
  return run(x_T.contiguous());
}

}  // namespace spdec::runtime
