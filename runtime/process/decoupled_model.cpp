// Decoupled semantics (docs/design.md §2): X_t = Φ_t(x₀) + N_t, Φ the
// noise-free (tamed) flow and N_t ~ N(0, Σ̄_t) the noise, which evolves under
// the drift's pointwise linear part c(t)·u (lang/linear_rate.hpp; c = 0 when
// there is none): dN = c N dt + g dW. Σ̄_t = D Q D with D² the left sum
// D²_{k+1} = e^{2Δt c(t_k)} D²_k + Δt g(t_k, Φ_{t_k}(x₀))² that flow_steps
// accumulates, so that what a network is trained on and what the sampler
// assumes are one thing.
//
// Additive noise (possibly reading u0 or the coordinates) gives this form
// with any Q. Multiplicative noise gives it with white Q: each pixel's
// variance is accumulated along the flow of x₀ (path-dependent, so per
// sample); with correlated Q it has no such form, and the training plan
// refuses the process (lang/training_plan.cpp).
//
// Reverse dynamics: the Markov process with these marginals has forward
// drift E[b(Φ_t(x₀)) + c N_t | x] ≈ b(x̂) + c (x − x̂), x̂ = x + Σ̄ s (Tweedie's
// E[Φ_t(x₀) | x]), and diffusion Σ̇ = g Q g. With b̃ that drift:
//   reverse SDE  x_s = x − h (b̃ − Σ̇ s) + g √h Q^{1/2} ξ
//   ODE          dx/dt = b̃ − ½ Σ̇ s
// with b the tamed velocity and g taken at x̂. Σ̇ = g Q g is exact when Q = I
// or g is the same at every pixel (every library process); otherwise it is
// the leading term. When Σ̄ depends on x₀ (noise reading u or u0) the
// sampler uses it at its estimate of x₀ — exact when the drift is zero and
// the noise reads only u0, as in edge_preserving, where Φ_t(x₀) = x₀.
#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime/base/step_grid.hpp"
#include "runtime/kernels/fed_flow.hpp"
#include "runtime/process/model_kinds.hpp"

namespace spdec::runtime {
namespace {

class DecoupledModel final : public ProcessModel {
 public:
  DecoupledModel(std::shared_ptr<const lang::Process> process,
                 std::unique_ptr<ProcessKernels> kernels, std::int64_t height, std::int64_t width,
                 const KnotValues* knots, const ModelOptions& options)
      : ProcessModel(std::move(process), std::move(kernels), height, width) {
    if (knots != nullptr) knots_ = *knots;
    choose_flow(options);
  }

  [[nodiscard]] std::string flow_scheme() const override {
    return fed_ ? "fed " + std::to_string(fed_->options.cycles) : std::string();
  }

  [[nodiscard]] ModelKind kind() const override { return ModelKind::decoupled; }

  /// One sweep over the batch sorted by time: every sample is flowed on the
  /// Δt grid to its last grid point, and a shortened step lands it on its t.
  Perturbed perturb(const at::Tensor& x0, std::span<const double> t,
                    const NoiseSource& noise) override {
    check_batch(x0, t);
    if (fed_) return perturb_fed(x0, t, noise);
    const at::Tensor order = ascending_order(t);
    const std::int64_t n = x0.size(0);
    const at::Tensor sorted_x0 = x0.index_select(0, order.to(x0.device())).contiguous();
    std::vector<at::Tensor> flows(static_cast<std::size_t>(n));
    std::vector<at::Tensor> variances(static_cast<std::size_t>(n));
    at::Tensor u = sorted_x0.clone();
    at::Tensor var = at::zeros_like(u);
    std::int64_t done = 0;
    const double dt = process().time.dt;
    const auto* indices = order.data_ptr<std::int64_t>();
    for (std::int64_t j = 0; j < n; ++j) {
      const std::int64_t i = indices[j];
      const GridPosition position = grid_position(t[static_cast<std::size_t>(i)], dt);
      const std::int64_t remaining = n - j;  // u holds sorted samples j..n−1
      const at::Tensor u0 = kernel_u0(sorted_x0.narrow(0, j, remaining));
      if (position.steps > done) {
        u = kernels().flow_steps(u, u0, static_cast<double>(done) * dt, dt, position.steps - done,
                                 &var);
        done = position.steps;
      }
      at::Tensor ui = u.narrow(0, 0, 1).contiguous();
      at::Tensor vi = var.narrow(0, 0, 1).clone();
      if (position.rest > 0) {
        ui = kernels().flow_steps(ui, u0.defined() ? u0.narrow(0, 0, 1) : u0,
                                  static_cast<double>(position.steps) * dt, position.rest, 1, &vi);
      }
      flows[static_cast<std::size_t>(i)] = ui;
      variances[static_cast<std::size_t>(i)] = vi;
      u = u.narrow(0, 1, remaining - 1).contiguous();
      var = var.narrow(0, 1, remaining - 1).contiguous();
    }
    return perturbed(x0, at::cat(flows), at::cat(variances), noise);
  }

  /// X_t = mean + N(0, D Q D) with D² = variance per pixel, ε the draw `noise`
  /// (its step is ignored: 0, as every model numbers its own draws).
  Perturbed perturbed(const at::Tensor& x0, const at::Tensor& mean, const at::Tensor& variance,
                      const NoiseSource& noise) {
    Perturbed p;
    p.mean = mean.contiguous();
    NoiseSource draw = noise;
    draw.step = 0;
    p.eps = white_noise(x0, draw);
    p.covariance.emplace(noise_covariance(at::sqrt(variance)));
    p.xt = (p.mean + p.covariance->apply_sqrt(p.eps)).to(at::kFloat).contiguous();
    return p;
  }

  Covariance covariance(double t, const at::Tensor& x, const at::Tensor& x0_hat) override {
    return noise_covariance(at::sqrt(accumulated_variance(t, x, x0_hat)));
  }

  /// x + Σ̄_t s = E[Φ_t(x₀) | x], which is x₀'s estimate at small t.
  at::Tensor denoise(const at::Tensor& x, double t, const at::Tensor& score) override {
    return (x + covariance(t, x, x).apply(score)).contiguous();
  }

  /// m = N's decay e^{∫c} (1 without a noise rate: the flow Φ_t(x₀) stands
  /// in for x₀, a conditioning choice); s² = the mean over pixels of the
  /// accumulated variance times Q's eigenvalues. A Σ̄_t that depends on x₀
  /// has no x₀-free scale: refused.
  ModeScales mode_scales(std::span<const double> t) override {
    if (!process().training.per_mode_scales) {
      throw std::invalid_argument(process().training.why_not(lang::Parameterisation::denoiser,
                                                             lang::ObjectiveKind::decoupled));
    }
    const auto n = static_cast<std::int64_t>(t.size());
    const at::Tensor like = at::zeros({1, 1, height(), width()}, at::kFloat);
    at::Tensor v = at::empty({n, 1, 1, 1}, at::kDouble);
    at::Tensor m = at::empty({n, 1, 1, 1}, at::kDouble);
    auto* values = v.data_ptr<double>();
    auto* decays = m.data_ptr<double>();
    for (std::int64_t i = 0; i < n; ++i) {
      const double ti = t[static_cast<std::size_t>(i)];
      values[i] = accumulated_variance(ti, like, like).to(at::kDouble).mean().item<double>();
      decays[i] = noise_decay(0.0, ti);
    }
    const at::Tensor q = noise().is_identity() ? at::ones({height(), width()}, at::kDouble)
                                               : noise().eigenvalues().to(at::kDouble);
    return {m.expand({n, 1, height(), width()}).contiguous(), v * q};
  }

  /// −Σ̄_t⁺ (x − Φ_t(x̂₀)): the flow of the estimate stands for E[Φ_t(x₀) | x].
  at::Tensor score_from_denoised(const at::Tensor& x, double t, const at::Tensor& x0_hat) override {
    const FlowPair pair = flow_pair(x0_hat, t, t);
    const Covariance sigma = noise_covariance(at::sqrt(variance_of(pair.variance_t, t, x, x0_hat)));
    return (-sigma.apply_inverse(x - pair.at_t)).to(x.scalar_type()).contiguous();
  }

  [[nodiscard]] bool has_posterior() const override { return true; }

  /// The bridge of the noise N: given x̂₀, n_t = x_t − Φ_t(x̂₀) is N_t. With
  /// a = N's decay from s to t (1 without a noise rate), Cov(N_s, N_t) =
  /// a v_s, so N_s | N_t ~ N(a v_s/v_t n_t, v_s (1 − ρ) Q), ρ = a² v_s / v_t,
  /// per pixel (exact for white noise, or for a g that is the same at every
  /// pixel); so
  ///   x_s = Φ_s(x̂₀) + √(v_s − σ²) n_t / √v_t + σ ζ,  σ² = η² v_s (1 − ρ)
  /// (η = 1: the coefficient of n_t is a v_s / v_t).
  /// The drift is never evaluated at a noisy state: the flow only ever
  /// smooths the clean estimate, so no step size is unstable. Γ is not
  /// used: the flow is nonlinear in x₀.
  at::Tensor posterior_step(const at::Tensor& x, double t, double s, const at::Tensor& x0_hat,
                            const PosteriorStep& options, const NoiseSource& noise) override {
    if (!(s < t)) throw std::invalid_argument("posterior step: needs s < t");
    const FlowPair pair = flow_pair(x0_hat, s, t);
    const at::Tensor& flow_s = pair.at_s;
    const at::Tensor& flow_t = pair.at_t;
    const at::Tensor v_t = variance_of(pair.variance_t, t, x, x0_hat).to(x.scalar_type());
    const at::Tensor v_s = variance_of(pair.variance_s, s, x, x0_hat).to(x.scalar_type());
    const at::Tensor carries = v_t > 0;
    const at::Tensor safe_v_t = at::where(carries, v_t, at::ones_like(v_t));
    const double decay = noise_decay(s, t);
    const at::Tensor rho =
        at::where(carries, (decay * decay) * v_s / safe_v_t, at::zeros_like(v_t));
    const at::Tensor sigma2 = options.eta * options.eta * v_s * (1.0 - rho).clamp_min(0.0);
    const at::Tensor keep =
        at::where(carries, at::sqrt((v_s - sigma2).clamp_min(0.0) / safe_v_t), at::zeros_like(v_t));
    at::Tensor out = flow_s + keep * (x - flow_t);
    if (options.eta > 0) out = out + at::sqrt(sigma2) * correlated_noise(x, noise, t);
    return out.contiguous();
  }

  at::Tensor reverse_step(const at::Tensor& x, double t, double s, const at::Tensor& score,
                          const NoiseSource& noise) override {
    const double h = t - s;
    const Parts parts = reverse_parts(x, t, score);
    const at::Tensor zeta = correlated_noise(x, noise, t);
    return (x - h * (parts.drift - parts.sigma_dot_score) + parts.g * std::sqrt(h) * zeta)
        .contiguous();
  }

  at::Tensor velocity(const at::Tensor& x, double t, const at::Tensor& score) override {
    const Parts parts = reverse_parts(x, t, score);
    return (parts.drift - 0.5 * parts.sigma_dot_score).contiguous();
  }

 private:
  struct Parts {
    at::Tensor drift;            ///< b(x̂) + c (x − x̂), b tamed
    at::Tensor sigma_dot_score;  ///< Σ̇ s = g Q (g s)
    at::Tensor g;
  };

  Parts reverse_parts(const at::Tensor& x, double t, const at::Tensor& score) {
    const at::Tensor x_hat = denoise(x, t, score);
    const at::Tensor u0 = kernel_u0(x_hat);
    Parts parts;
    // E[b(Φ_t) + c N_t | x] with N_t's estimate x − x̂.
    parts.drift = tamed_drift(x_hat, u0, t);
    if (rate()) parts.drift = parts.drift + rate_at(t) * (x - x_hat);
    parts.g = kernels().diffusion(x_hat, u0, t);
    const at::Tensor gs = parts.g * score;
    parts.sigma_dot_score =
        parts.g * (noise().is_identity() ? gs : noise().apply(gs, t).to(x.scalar_type()));
    return parts;
  }

  /// FED: Φ_t per sample from one sweep of cycles (runtime/kernels/fed_flow.hpp); the
  /// variance from the same table as covariance() (u0-free noise only), so
  /// that training and sampling see one Σ̄_t.
  Perturbed perturb_fed(const at::Tensor& x0, std::span<const double> t, const NoiseSource& noise) {
    const at::Tensor mean =
        fed_flow_batch(kernels(), process(), x0.to(at::kFloat).contiguous(), t, *fed_);
    std::vector<at::Tensor> variances;
    variances.reserve(t.size());
    for (const double ti : t) variances.push_back(accumulated_variance(ti, x0, x0));
    return perturbed(x0, mean, at::cat(variances), noise);
  }

  /// The flow scheme of `options` (automatic: FED where it applies).
  void choose_flow(const ModelOptions& options) {
    if (options.flow == FlowScheme::explicit_steps) return;
    const bool wanted = options.flow == FlowScheme::fed;
    if (!process().training.shared_variance) {
      if (wanted) {
        throw std::invalid_argument(
            "process `" + process().name +
            "`: FED flows need a Σ̄_t that is the same for every x0 (noise that reads neither u "
            "nor u0; this one's variance is summed along the explicit sweep); use process.flow = "
            "\"explicit\"");
      }
      return;
    }
    FedOptions fed;
    fed.cycles = options.fed_cycles;
    try {
      fed_.emplace(FedSchedule::build(kernels(), process(), fed));
    } catch (const std::invalid_argument&) {
      if (wanted) throw;  // the reason the drift has no FED operator
    }
  }

  /// Φ_s(x₀) and Φ_t(x₀) for s ≤ t from one sweep over the Δt grid; each
  /// lands on its time with a shortened last step, as perturb does, so the
  /// sampler pushes its estimate through the very flow training used. When
  /// Σ̄ depends on x₀ (not shared_variance; the flow is then explicit), the
  /// same sweep accumulates D² at s and t, which would otherwise take a
  /// sweep each (accumulated_variance); else the variances stay undefined.
  struct FlowPair {
    at::Tensor at_s;
    at::Tensor at_t;
    at::Tensor variance_s;
    at::Tensor variance_t;
  };

  FlowPair flow_pair(const at::Tensor& x0, double s, double t) {
    if (fed_) {
      FedPair pair =
          fed_flow_pair(kernels(), process(), x0.to(at::kFloat).contiguous(), s, t, *fed_);
      return {pair.at_s.contiguous(), pair.at_t.contiguous(), {}, {}};
    }
    const double dt = process().time.dt;
    const at::Tensor u0 = kernel_u0(x0);
    const GridPosition at_s = grid_position(s, dt);
    const GridPosition at_t = grid_position(t, dt);
    const bool carry = !process().training.shared_variance;
    const auto steps = [&](const at::Tensor& u, std::int64_t from, std::int64_t count,
                           at::Tensor* variance) {
      return count > 0
                 ? kernels().flow_steps(u, u0, static_cast<double>(from) * dt, dt, count, variance)
                 : u;
    };
    const auto land = [&](const at::Tensor& u, const GridPosition& position, at::Tensor* variance) {
      return position.rest > 0
                 ? kernels().flow_steps(u, u0, static_cast<double>(position.steps) * dt,
                                        position.rest, 1, variance)
                 : u;
    };
    const at::Tensor start = x0.to(at::kFloat).contiguous();
    at::Tensor variance = carry ? at::zeros_like(start) : at::Tensor();
    FlowPair pair;
    const at::Tensor node_s = steps(start, 0, at_s.steps, carry ? &variance : nullptr);
    if (carry) pair.variance_s = variance.clone();
    pair.at_s = land(node_s, at_s, carry ? &pair.variance_s : nullptr).contiguous();
    const at::Tensor node_t =
        steps(node_s, at_s.steps, at_t.steps - at_s.steps, carry ? &variance : nullptr);
    pair.at_t = land(node_t, at_t, carry ? &variance : nullptr).contiguous();
    if (carry) pair.variance_t = variance;
    return pair;
  }

  /// D² at `time`: what a flow pair carried, or the shared table's.
  at::Tensor variance_of(const at::Tensor& carried, double time, const at::Tensor& x,
                         const at::Tensor& x0_hat) {
    return carried.defined() ? carried : accumulated_variance(time, x, x0_hat);
  }

  /// D Q D (D = `scale`) in the noise's basis; white Q skips the transforms.
  Covariance noise_covariance(const at::Tensor& scale) const {
    const at::Tensor q = noise().is_identity() ? at::ones({}, at::kDouble) : noise().eigenvalues();
    return {noise().basis(), q, scale};
  }

  /// D² at t for states like x: from the table of the zero-state sweep when
  /// Σ̄ is shared by every x₀ (g reads neither u nor u0, so any state gives
  /// the same sum), else by summing along the flow of x0_hat.
  at::Tensor accumulated_variance(double t, const at::Tensor& x, const at::Tensor& x0_hat) {
    const double dt = process().time.dt;
    const GridPosition position = grid_position(t, dt);
    if (!process().training.shared_variance) {
      const at::Tensor u0 = kernel_u0(x0_hat);
      at::Tensor var = at::zeros_like(x);
      at::Tensor u = kernels().flow_steps(x0_hat.to(x.scalar_type()).contiguous(), u0, 0.0, dt,
                                          position.steps, &var);
      if (position.rest > 0) {
        (void)kernels().flow_steps(u, u0, static_cast<double>(position.steps) * dt, position.rest,
                                   1, &var);
      }
      return var;
    }
    extend_table(position.steps, x);
    at::Tensor var = table_[static_cast<std::size_t>(position.steps)].clone();
    if (position.rest > 0) {
      (void)kernels().flow_steps(at::zeros_like(var), {}, static_cast<double>(position.steps) * dt,
                                 position.rest, 1, &var);
    }
    return var;
  }

  /// table_[k] = Σ_{j<k} Δt g(t_j)² per pixel ([1, C, H, W]).
  void extend_table(std::int64_t steps, const at::Tensor& like) {
    if (table_.empty() || table_.front().size(1) != like.size(1) ||
        table_.front().device() != like.device()) {
      table_.assign(1, at::zeros({1, like.size(1), like.size(2), like.size(3)},
                                 like.options().dtype(at::kFloat)));
    }
    const double dt = process().time.dt;
    while (static_cast<std::int64_t>(table_.size()) <= steps) {
      at::Tensor var = table_.back().clone();
      const auto k = static_cast<double>(table_.size() - 1);
      (void)kernels().flow_steps(at::zeros_like(var), {}, k * dt, dt, 1, &var);
      table_.push_back(var);
    }
  }

  void check_batch(const at::Tensor& x0, std::span<const double> t) const {
    if (x0.dim() != 4 || x0.size(0) != static_cast<std::int64_t>(t.size())) {
      throw std::invalid_argument("perturb: x0 must be [N, C, H, W] with one time per sample");
    }
    for (const double ti : t) {
      if (!(ti >= 0.0 && ti <= end_time())) {
        throw std::invalid_argument("perturb: time " + std::to_string(ti) + " outside [0, T]");
      }
    }
  }

  /// c(t), the drift's pointwise linear rate at which N decays
  /// (lang/linear_rate.hpp); null when N is not damped.
  [[nodiscard]] const lang::ExprRef& rate() const {
    return process().classification.pointwise_rate.rate;
  }

  [[nodiscard]] double rate_at(double t) const {
    return host_value(process(), rate(), t, knots_.empty() ? nullptr : &knots_);
  }

  /// ∫₀ᵗ c as the flow kernels take it: the left sum on the Δt grid and the
  /// shortened step that lands on t (codegen/program.hpp, noise_rate_param).
  double integrated_rate(double t) {
    const double dt = process().time.dt;
    const GridPosition position = grid_position(t, dt);
    while (static_cast<std::int64_t>(rate_sums_.size()) <= position.steps) {
      const auto k = static_cast<double>(rate_sums_.size() - 1);
      rate_sums_.push_back(rate_sums_.back() + dt * rate_at(k * dt));
    }
    const double base = rate_sums_[static_cast<std::size_t>(position.steps)];
    return position.rest > 0
               ? base + position.rest * rate_at(static_cast<double>(position.steps) * dt)
               : base;
  }

  /// N's multiplier from s to t, e^{∫ₛᵗ c}: 1 when N is not damped.
  double noise_decay(double s, double t) {
    return rate() ? std::exp(integrated_rate(t) - integrated_rate(s)) : 1.0;
  }

  KnotValues knots_;
  std::vector<double> rate_sums_{0.0};  ///< rate_sums_[k] = Σ_{j<k} Δt c(j Δt)
  std::vector<at::Tensor> table_;
  std::optional<FedSchedule> fed_;
};

}  // namespace

at::Tensor ascending_order(std::span<const double> t) {
  std::vector<std::int64_t> order(t.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return t[static_cast<std::size_t>(a)] < t[static_cast<std::size_t>(b)];
  });
  return at::tensor(order, at::kLong);
}

std::unique_ptr<ProcessModel> make_decoupled_model(std::shared_ptr<const lang::Process> process,
                                                   std::unique_ptr<ProcessKernels> kernels,
                                                   std::int64_t height, std::int64_t width,
                                                   const KnotValues* knots,
                                                   const ModelOptions& options) {
  return std::make_unique<DecoupledModel>(std::move(process), std::move(kernels), height, width,
                                          knots, options);
}

}  // namespace spdec::runtime
