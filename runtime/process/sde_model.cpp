// SDE semantics (docs/design.md §2): the forward process is the tamed
// Euler–Maruyama chain itself. perturb() runs it with noise to each sample's
// time and returns the Gaussian of its last step, X_t | X_{t−h} =
// N(X_{t−h} + h b̃, h g² Q) — what local DSM regresses on. The reverse
// dynamics are the generated kernels' reverse_step and ode_step (eq. 20,
// with div Σ).
#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

#include "runtime/base/step_grid.hpp"
#include "runtime/process/model_kinds.hpp"

namespace spdec::runtime {
namespace {

/// A shortened last step draws its noise from its own Philox steps, so it
/// never reuses a grid step's noise (a chain has far fewer than 2^40 steps).
constexpr std::uint64_t kRestStepBase = std::uint64_t{1} << 40U;

class SdeModel final : public ProcessModel {
 public:
  SdeModel(std::shared_ptr<const lang::Process> process, std::unique_ptr<ProcessKernels> kernels,
           std::int64_t height, std::int64_t width)
      : ProcessModel(std::move(process), std::move(kernels), height, width) {}

  [[nodiscard]] ModelKind kind() const override { return ModelKind::sde; }

  /// The chain, batch sorted by time; sample i takes full steps of Δt, then
  /// its last step (Δt, or the shortened step that lands on t_i) is returned
  /// as mean + L ε. Grid step k draws Philox step k for every sample, so a
  /// sample's path does not depend on the others' times.
  Perturbed perturb(const at::Tensor& x0, std::span<const double> t,
                    const NoiseSource& noise) override {
    const std::int64_t n = x0.size(0);
    if (x0.dim() != 4 || n != static_cast<std::int64_t>(t.size())) {
      throw std::invalid_argument("perturb: x0 must be [N, C, H, W] with one time per sample");
    }
    const double dt = process().time.dt;
    const at::Tensor order = ascending_order(t);
    const at::Tensor ids =
        (noise.sample_ids.defined() ? noise.sample_ids.to(at::kCPU)
                                    : at::arange(n, at::TensorOptions(at::kLong)))
            .index_select(0, order);
    const at::Tensor sorted_x0 = x0.index_select(0, order.to(x0.device())).contiguous();
    std::vector<Last> last(static_cast<std::size_t>(n));
    at::Tensor u = sorted_x0.clone();
    std::int64_t done = 0;
    const auto* indices = order.data_ptr<std::int64_t>();
    for (std::int64_t j = 0; j < n; ++j) {
      const auto i = static_cast<std::size_t>(indices[j]);
      const double ti = t[i];
      if (!(ti > 0.0 && ti <= end_time())) {
        throw std::invalid_argument("perturb: time " + std::to_string(ti) + " outside (0, T]");
      }
      GridPosition position = grid_position(ti, dt);
      std::uint64_t last_step = kRestStepBase + static_cast<std::uint64_t>(position.steps);
      if (position.rest == 0) {  // the last grid step is the Gaussian one
        --position.steps;
        position.rest = dt;
        last_step = static_cast<std::uint64_t>(position.steps);
      }
      const std::int64_t remaining = n - j;
      const at::Tensor u0 = kernel_u0(sorted_x0.narrow(0, j, remaining));
      NoiseSource draw = noise;
      draw.sample_ids = ids.narrow(0, j, remaining).to(x0.device());
      for (; done < position.steps; ++done) {
        draw.step = static_cast<std::uint64_t>(done);
        if (!this->noise().is_identity()) {
          draw.correlated = correlated_noise(u, draw, static_cast<double>(done) * dt);
        }
        u = kernels().forward_step(u, u0, static_cast<double>(done) * dt, dt, draw);
      }
      draw.step = last_step;
      draw.correlated = at::Tensor();
      draw.sample_ids = draw.sample_ids.narrow(0, 0, 1);
      last[i] = last_step_of(u.narrow(0, 0, 1).contiguous(), u0.defined() ? u0.narrow(0, 0, 1) : u0,
                             static_cast<double>(position.steps) * dt, position.rest, draw);
      u = u.narrow(0, 1, remaining - 1).contiguous();
    }
    return assemble(last);
  }

  /// t g(t, x)² Q: the covariance after one EM step of length t from x.
  Covariance covariance(double t, const at::Tensor& x, const at::Tensor& x0_hat) override {
    const at::Tensor g = kernels().diffusion(x, kernel_u0(x0_hat), t);
    return noise_covariance(std::sqrt(t) * g, t);
  }

  /// One EM step of length t inverted: x₀ ≈ x − t b̃(x) + Σ s.
  at::Tensor denoise(const at::Tensor& x, double t, const at::Tensor& score) override {
    const at::Tensor u0 = kernel_u0(x);
    return (x - t * tamed_drift(x, u0, t) + covariance(t, x, x).apply(score)).contiguous();
  }

  at::Tensor reverse_step(const at::Tensor& x, double t, double s, const at::Tensor& score,
                          const NoiseSource& noise) override {
    const at::Tensor u0 = u0_for(x, t, score);
    NoiseSource draw = noise;
    if (!this->noise().is_identity()) draw.correlated = correlated_noise(x, noise, t);
    return kernels().reverse_step(x, u0, t, t - s, score_term(x, u0, t, score),
                                  noise_diagonal(t, x), draw);
  }

  at::Tensor velocity(const at::Tensor& x, double t, const at::Tensor& score) override {
    const at::Tensor u0 = u0_for(x, t, score);
    return kernels().ode_velocity(x, u0, t, process().time.dt, score_term(x, u0, t, score),
                                  noise_diagonal(t, x));
  }

 private:
  struct Last {
    at::Tensor mean;
    at::Tensor scale;  ///< √h g
    at::Tensor eps;
  };

  Last last_step_of(const at::Tensor& u, const at::Tensor& u0, double t, double h,
                    const NoiseSource& draw) {
    Last last;
    last.mean = (u + h * tamed_drift(u, u0, t)).contiguous();
    last.scale = std::sqrt(h) * kernels().diffusion(u, u0, t);
    last.eps = white_noise(u, draw);
    return last;
  }

  Perturbed assemble(const std::vector<Last>& last) const {
    std::vector<at::Tensor> means;
    std::vector<at::Tensor> scales;
    std::vector<at::Tensor> eps;
    for (const Last& l : last) {
      means.push_back(l.mean);
      scales.push_back(l.scale);
      eps.push_back(l.eps);
    }
    Perturbed p;
    p.mean = at::cat(means);
    p.eps = at::cat(eps);
    p.covariance.emplace(noise_covariance(at::cat(scales), 0.0));
    p.xt = (p.mean + p.covariance->apply_sqrt(p.eps)).to(at::kFloat).contiguous();
    return p;
  }

  Covariance noise_covariance(const at::Tensor& scale, double t) const {
    const at::Tensor q = noise().is_identity() ? at::ones({}, at::kDouble) : noise().eigenvalues(t);
    return {noise().basis(), q, scale};
  }

  /// x̂₀ for processes that read u0 (Tweedie at t with u0 = x first).
  at::Tensor u0_for(const at::Tensor& x, double t, const at::Tensor& score) {
    if (!process().classification.reads_u0) return {};
    return denoise(x, t, score);
  }
};

}  // namespace

std::unique_ptr<ProcessModel> make_sde_model(std::shared_ptr<const lang::Process> process,
                                             std::unique_ptr<ProcessKernels> kernels,
                                             std::int64_t height, std::int64_t width) {
  return std::make_unique<SdeModel>(std::move(process), std::move(kernels), height, width);
}

}  // namespace spdec::runtime
