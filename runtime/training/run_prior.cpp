#include "runtime/training/run_prior.hpp"

#include <ATen/core/grad_mode.h>
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "lang/lint.hpp"
#include "runtime/process/forward_simulation.hpp"
#include "runtime/spectral/linear_process.hpp"

namespace spdec::runtime {
namespace {

/// Simulation batch: bounds memory for the sde chain; any size gives the
/// same draws (noise is keyed by sample id).
constexpr std::int64_t kFitBatch = 256;

/// Snapshots taken to find when a blown-up simulation stopped being finite:
/// the time is told to within T / kBlowUpSnapshots.
constexpr int kBlowUpSnapshots = 64;

/// What `spdec check` says of the process's explicit step (W102), or "".
std::string stability_warning(const lang::Process& process) {
  const auto unstable = lang::unstable_step(process);
  if (!unstable) return {};
  return "; `spdec check` warns W102 for it: " + unstable->message + "; " + unstable->hint;
}

/// The first snapshot time at which image `row`'s simulated state is not
/// finite, with the last finite one before it: {first bad, last good}.
std::pair<double, double> blow_up_time(ProcessModel& model, const at::Tensor& image,
                                       std::uint64_t seed, std::int64_t row) {
  const double end = model.end_time();
  ForwardOptions options;
  options.seed = seed;
  options.sample_ids = at::full({1}, row, at::TensorOptions().dtype(at::kLong)).to(image.device());
  for (int k = 1; k <= kBlowUpSnapshots; ++k) options.times.push_back(end * k / kBlowUpSnapshots);
  const ForwardResult result =
      simulate_forward(model.kernels(), model.process(), model.noise(), image, options);
  double last_good = 0;
  for (std::size_t k = 0; k < options.times.size(); ++k) {
    if (!at::isfinite(result.states[static_cast<std::int64_t>(k)]).all().item<bool>()) {
      return {options.times[k], last_good};
    }
    last_good = options.times[k];
  }
  return {end, last_good};  // finite on this grid: the fit's own chain blew up at T
}

/// Throws, naming the forward simulation, the process and the time, when
/// the simulated X_T [N, C, H, W] (rows first..) is not finite.
void require_finite_simulation(ProcessModel& model, const at::Tensor& x0, const at::Tensor& xt,
                               std::int64_t first, std::uint64_t seed) {
  const at::Tensor bad_rows = (~at::isfinite(xt.flatten(1)).all(1)).nonzero();
  if (bad_rows.numel() == 0) return;
  const std::int64_t row = bad_rows[0][0].item<std::int64_t>();
  const auto [bad, good] = blow_up_time(model, x0.narrow(0, row, 1), seed, first + row);
  const lang::Process& process = model.process();
  throw std::runtime_error(fmt::format(
      "the forward simulation of process {} blew up: on training image {} its state is not "
      "finite at t = {:.4g} (still finite at t = {:.4g}; T = {:.4g}, dt = {:.4g}), so the prior "
      "at T cannot be fitted{}; see it with `spdec run forward`, and tame the drift or take a "
      "smaller dt",
      process.name, first + row, bad, good, model.end_time(), process.time.dt,
      stability_warning(process)));
}

GaussianPrior fit_by_simulation(ProcessModel& model, const at::Tensor& x0, std::uint64_t seed) {
  std::vector<at::Tensor> states;
  for (std::int64_t first = 0; first < x0.size(0); first += kFitBatch) {
    const std::int64_t n = std::min(kFitBatch, x0.size(0) - first);
    NoiseSource noise;
    noise.seed = seed ^ 0x9e10eULL;
    noise.sample_ids =
        at::arange(first, first + n, at::TensorOptions().dtype(at::kLong)).to(x0.device());
    const std::vector<double> times(static_cast<std::size_t>(n), model.end_time());
    const at::Tensor xt = model.perturb(x0.narrow(0, first, n), times, noise).xt;
    require_finite_simulation(model, x0.narrow(0, first, n), xt, first, noise.seed);
    states.push_back(xt.to(at::kDouble));
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
