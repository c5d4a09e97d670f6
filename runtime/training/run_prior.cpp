#include "runtime/training/run_prior.hpp"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "runtime/spectral/linear_process.hpp"

namespace spdec::runtime {
namespace {

/// Simulation batch: bounds memory for the sde chain; any size gives the
/// same draws (noise is keyed by sample id).
constexpr std::int64_t kFitBatch = 256;

GaussianPrior fit_by_simulation(ProcessModel& model, const at::Tensor& x0, std::uint64_t seed) {
  std::vector<at::Tensor> states;
  for (std::int64_t first = 0; first < x0.size(0); first += kFitBatch) {
    const std::int64_t n = std::min(kFitBatch, x0.size(0) - first);
    NoiseSource noise;
    noise.seed = seed ^ 0x9e10eULL;
    noise.sample_ids =
        at::arange(first, first + n, at::TensorOptions().dtype(at::kLong)).to(x0.device());
    const std::vector<double> times(static_cast<std::size_t>(n), model.end_time());
    states.push_back(model.perturb(x0.narrow(0, first, n), times, noise).xt.to(at::kDouble));
  }
  return gaussian_fit(at::cat(states, 0), model.noise().basis());
}

}  // namespace

std::optional<GaussianPrior> fit_run_prior(ProcessModel& model, ObjectiveKind objective,
                                           const at::Tensor& x0, config::PriorChoice kind,
                                           std::uint64_t seed) {
  if (objective == ObjectiveKind::flow_matching) return std::nullopt;
  const at::NoGradGuard no_grad;
  using config::PriorChoice;
  if (kind == PriorChoice::automatic || kind == PriorChoice::gaussian_fit) {
    return fit_by_simulation(model, x0, seed);
  }
  if (kind == PriorChoice::closed_form) {
    const LinearProcess* linear = model.linear();
    if (linear == nullptr) {
      throw std::invalid_argument("train.prior = \"closed_form\" needs a linear process; '" +
                                  model.process().name + "' is " + name(model.kind()) +
                                  ": use \"gaussian_fit\"");
    }
    const at::Tensor mean = x0.to(at::kDouble).mean(0).to(at::kCPU);
    return closed_form(*linear, model.end_time(), x0.size(1), mean);
  }
  throw std::invalid_argument(
      "train.prior = \"simulate\" (drawing X_T from training images at sampling time) is not "
      "implemented; \"gaussian_fit\" fits X_T's mean and per-mode variance instead");
}

}  // namespace spdec::runtime
