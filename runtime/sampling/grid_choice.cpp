#include "runtime/sampling/grid_choice.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <utility>

#include "runtime/spectral/linear_process.hpp"

namespace spdec::runtime {
namespace {

/// The per-mode quantities of a step from t to s (s < t), double [H, W]:
/// forward factors and variances, in closed form from the model.
struct ModeStep {
  at::Tensor m_t, m_s;  ///< mean factors
  at::Tensor v_t, v_s;  ///< noise variances
  at::Tensor b2;        ///< variance added between s and t
};

/// v where it is positive, else 1: a divisor that cannot be 0.
at::Tensor safe(const at::Tensor& v) { return at::where(v > 0, v, at::ones_like(v)); }

/// The per-mode tables at the grid's times, each computed once (a
/// process whose noise filter reads t integrates its variance on demand,
/// which is not cheap).
class ModeTables {
 public:
  explicit ModeTables(ProcessModel& model) : model_(model) {}

  ModeStep step(double t, double s) {
    ModeStep out;
    if (const LinearProcess* linear = model_.linear()) {
      const auto& at_t = marginal(*linear, t);
      const auto& at_s = marginal(*linear, s);
      out.m_t = at_t.first;
      out.v_t = at_t.second;
      out.m_s = at_s.first;
      out.v_s = at_s.second;
      out.b2 = linear->variance_between(s, t);
      return out;
    }
    const std::vector<double> times{t, s};
    const ModeScales scales = model_.mode_scales(times);
    out.m_t = scales.m[0][0];
    out.m_s = scales.m[1][0];
    out.v_t = scales.s2[0][0];
    out.v_s = scales.s2[1][0];
    // The noise's own decay from s to t is m_t / m_s (decoupled models:
    // runtime/process/decoupled_model.cpp); what it does not carry was added.
    const at::Tensor decay = out.m_t / safe(out.m_s);  // m > 0: e^{∫c}
    out.b2 = (out.v_t - decay * decay * out.v_s).clamp_min(0.0);
    return out;
  }

 private:
  const std::pair<at::Tensor, at::Tensor>& marginal(const LinearProcess& linear, double t) {
    auto it = cache_.find(t);
    if (it == cache_.end()) {
      it = cache_.emplace(t, std::make_pair(linear.mean_factor(t), linear.variance(t))).first;
    }
    return it->second;
  }

  ProcessModel& model_;
  std::map<double, std::pair<at::Tensor, at::Tensor>> cache_;
};

/// The exact denoiser's per-mode gain for centred Gaussian data.
at::Tensor wiener(const at::Tensor& m, const at::Tensor& v, const at::Tensor& c) {
  return m * c / safe(m * m * c + v);
}

double weighted_relative(const at::Tensor& value, const at::Tensor& exact, const at::Tensor& c) {
  const at::Tensor relative = (value - exact).abs() / safe(exact.abs());
  return (relative * c).sum().item<double>() / c.sum().item<double>();
}

double posterior_error(ModeTables& tables, const std::vector<double>& t, const at::Tensor& c,
                       double eta) {
  ModeStep first = tables.step(t[0], t[1]);
  at::Tensor variance = first.m_t * first.m_t * c + first.v_t;  // exact marginal at T
  for (std::size_t i = 0; i + 1 < t.size(); ++i) {
    const ModeStep k = tables.step(t[i], t[i + 1]);
    const at::Tensor carries = k.v_t > 0;
    const at::Tensor tilde = at::where(carries, k.v_s * k.b2 / safe(k.v_t), at::zeros_like(k.v_t));
    const at::Tensor keep =
        at::where(carries, at::sqrt((k.v_s - eta * eta * tilde).clamp_min(0.0) / safe(k.v_t)),
                  at::zeros_like(k.v_t));
    const at::Tensor f = k.m_s - keep * k.m_t;
    const at::Tensor gain = keep + f * wiener(k.m_t, k.v_t, c);
    variance = gain * gain * variance + eta * eta * tilde;
  }
  const ModeStep last = tables.step(t[t.size() - 2], t.back());
  const at::Tensor exact = last.m_s * last.m_s * c + last.v_s;
  return weighted_relative(variance, exact, c);
}

double exponential_error(ModeTables& tables, const std::vector<double>& t, const at::Tensor& c,
                         int order) {
  const ModeStep first = tables.step(t[0], t[1]);
  const at::Tensor start = first.m_t * first.m_t * c + first.v_t;
  at::Tensor gain = at::ones_like(c);
  at::Tensor previous_gain;  // of x at the previous time, times its Wiener gain
  at::Tensor previous_h;
  ModeStep k;
  for (std::size_t i = 0; i + 1 < t.size(); ++i) {
    k = tables.step(t[i], t[i + 1]);
    const at::Tensor noisy = (k.v_t > 0).logical_and(k.v_s > 0);
    const at::Tensor lambda_t = at::log(safe(k.m_t)) - 0.5 * at::log(safe(k.v_t));
    const at::Tensor lambda_s = at::log(safe(k.m_s)) - 0.5 * at::log(safe(k.v_s));
    const at::Tensor h = at::where(noisy, lambda_s - lambda_t, at::zeros_like(c));
    const at::Tensor keep =
        at::where(noisy, at::sqrt(safe(k.v_s) / safe(k.v_t)), k.m_s / safe(k.m_t));
    const at::Tensor coef = at::where(noisy, k.m_s * -at::expm1(-h), at::zeros_like(c));
    const at::Tensor d = wiener(k.m_t, k.v_t, c) * gain;  // D's gain on x_T
    at::Tensor next = keep * gain + coef * d;
    if (order >= 2 && previous_gain.defined()) {
      const at::Tensor r = previous_h / at::where(h > 0, h, at::ones_like(h));
      const at::Tensor usable = (h > 0).logical_and(r >= 0.5).logical_and(r <= 2.0);
      const at::Tensor w = at::where(usable, 0.5 / r, at::zeros_like(r));
      next = next + coef * w * (d - previous_gain);
    }
    previous_gain = d;
    previous_h = h;
    gain = next;
  }
  const at::Tensor end = k.m_s * k.m_s * c + k.v_s;
  return weighted_relative(gain, at::sqrt(end / start), c);
}

}  // namespace

double gaussian_oracle_error(ProcessModel& model, const at::Tensor& data_variance,
                             const SamplerOptions& options) {
  at::Tensor c = data_variance.to(at::kDouble);
  if (c.dim() == 3) c = c.mean(0);
  const std::vector<double> t =
      time_grid(model.end_time(), model.start_time(), options.steps, options.grid);
  ModeTables tables(model);
  switch (options.predictor) {
    case Predictor::posterior:
      return posterior_error(tables, t, c, options.eta);
    case Predictor::exponential:
      return exponential_error(tables, t, c, options.order);
    default:
      throw std::invalid_argument(
          "gaussian_oracle_error: only the posterior and exponential "
          "samplers have a closed-form oracle");
  }
}

std::vector<GridCandidate> rank_time_grids(ProcessModel& model, const at::Tensor& data_variance,
                                           const SamplerOptions& options) {
  std::vector<GridCandidate> candidates;
  candidates.push_back({TimeGrid{GridKind::uniform, 7.0}, 0});
  for (const double rho : {2.0, 3.0, 5.0, 7.0}) {
    candidates.push_back({TimeGrid{GridKind::power, rho}, 0});
  }
  for (GridCandidate& candidate : candidates) {
    SamplerOptions trial = options;
    trial.grid = candidate.grid;
    candidate.error = gaussian_oracle_error(model, data_variance, trial);
  }
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const GridCandidate& a, const GridCandidate& b) { return a.error < b.error; });
  return candidates;
}

}  // namespace spdec::runtime
