#include "runtime/sampling/posterior_variance.hpp"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <stdexcept>

namespace spdec::runtime {

PosteriorVarianceTable PosteriorVarianceTable::estimate(ProcessModel& model, Denoiser& denoiser,
                                                        const at::Tensor& x0,
                                                        std::span<const double> times,
                                                        std::uint64_t seed) {
  if (x0.dim() != 4 || x0.size(0) < 2) {
    throw std::invalid_argument("posterior variance: needs at least two held-out images");
  }
  if (times.empty()) throw std::invalid_argument("posterior variance: no times");
  const at::NoGradGuard no_grad;
  PosteriorVarianceTable table;
  table.times_.assign(times.begin(), times.end());
  std::sort(table.times_.begin(), table.times_.end());
  const std::int64_t k = x0.size(0);
  const at::Tensor images = x0.to(at::kFloat).contiguous();
  const SpectralBasis& basis = model.noise().basis();
  for (std::size_t i = 0; i < table.times_.size(); ++i) {
    const double t = table.times_[i];
    NoiseSource noise;
    noise.seed = seed;
    noise.step = i;
    noise.sample_ids = at::arange(k, at::TensorOptions().dtype(at::kLong)).to(images.device());
    const std::vector<double> at_t(static_cast<std::size_t>(k), t);
    const at::Tensor xt = model.perturb(images, at_t, noise).xt;
    const at::Tensor error = basis.transform((denoiser(xt, t) - images).to(at::kDouble));
    table.gamma_.push_back(error.abs().square().mean(0).to(at::kCPU));
  }
  return table;
}

at::Tensor PosteriorVarianceTable::operator()(double t) const {
  if (t <= times_.front()) return gamma_.front();
  if (t >= times_.back()) return gamma_.back();
  const auto upper = std::upper_bound(times_.begin(), times_.end(), t);
  const auto i = static_cast<std::size_t>(upper - times_.begin());
  const double w = (t - times_[i - 1]) / (times_[i] - times_[i - 1]);
  return (1.0 - w) * gamma_[i - 1] + w * gamma_[i];
}

}  // namespace spdec::runtime
