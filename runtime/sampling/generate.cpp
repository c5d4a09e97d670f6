#include "runtime/sampling/generate.hpp"

#include <ATen/core/grad_mode.h>
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "runtime/base/splitmix.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/sampling/data_prior.hpp"
#include "runtime/sampling/edit_start.hpp"
#include "runtime/sampling/flow_sampler.hpp"
#include "runtime/sampling/grid_choice.hpp"
#include "runtime/sampling/posterior_variance.hpp"
#include "runtime/sampling/sampler.hpp"
#include "runtime/training/network_score.hpp"

namespace spdec::runtime {
namespace {

using config::Sampler;

/// auto decided: the stable posterior sampler where the model has it.
Sampler resolved_sampler(const GenerateRequest& request, const ProcessModel& model) {
  if (request.sampler != Sampler::automatic) return request.sampler;
  return model.has_posterior() ? Sampler::posterior : Sampler::pc;
}

std::string sampler_name(const GenerateRequest& request, const ProcessModel& model,
                         const NetworkHead& head) {
  if (head.objective == ObjectiveKind::flow_matching) return "flow ode";
  return config::name(resolved_sampler(request, model));
}

Predictor predictor_of(Sampler sampler, const GenerateRequest& request, const ProcessModel& model) {
  if (sampler == Sampler::pc) return Predictor::reverse_sde;
  if (sampler == Sampler::ode) {
    return request.integrator == config::Integrator::euler ? Predictor::ode_euler
                                                           : Predictor::ode_heun;
  }
  if (sampler == Sampler::ancestral) {
    if (!model.has_ancestral()) {
      throw std::invalid_argument("sample.sampler = \"ancestral\" needs a linear process; '" +
                                  model.process().name + "' is " + name(model.kind()) +
                                  ": use \"posterior\", \"pc\" or \"ode\"");
    }
    return Predictor::ancestral;
  }
  if (sampler == Sampler::posterior) {
    if (!model.has_posterior()) {
      throw std::invalid_argument(
          "sample.sampler = \"posterior\" needs a linear process or "
          "decoupled semantics; '" +
          model.process().name + "' is " + name(model.kind()) + ": use \"pc\" or \"ode\"");
    }
    return Predictor::posterior;
  }
  if (sampler == Sampler::heun) {
    if (model.linear() == nullptr) {
      throw std::invalid_argument(
          "sample.sampler = \"heun\" needs a linear variance-exploding process; '" +
          model.process().name + "' is " + name(model.kind()) + ": use \"posterior\"");
    }
    return Predictor::heun;
  }
  // Sampler::exponential (automatic was resolved above).
  if (model.linear() == nullptr) {
    throw std::invalid_argument("sample.sampler = \"exponential\" needs a linear process; '" +
                                model.process().name + "' is " + name(model.kind()) +
                                ": use \"posterior\"");
  }
  return Predictor::exponential;
}

SamplerOptions sampler_options(const GenerateRequest& request, ProcessModel& model,
                               const NetworkHead& head) {
  SamplerOptions options;
  options.predictor = predictor_of(resolved_sampler(request, model), request, model);
  options.steps = request.steps;
  options.corrector_steps =
      options.predictor == Predictor::reverse_sde ? request.corrector_steps : 0;
  options.snr = request.snr;
  options.denoise = request.denoise;
  options.seed = request.seed;
  options.eta = request.eta;
  options.order = request.order;
  options.churn = request.churn;
  options.clip_lo = request.clip_lo;
  options.clip_hi = request.clip_hi;
  options.grid = TimeGrid{
      request.grid == config::GridChoice::power ? GridKind::power : GridKind::uniform, request.rho};
  const bool closed_form =
      options.predictor == Predictor::posterior || options.predictor == Predictor::exponential;
  if (request.grid == config::GridChoice::automatic && closed_form && head.preconditioner) {
    options.grid =
        rank_time_grids(model, head.preconditioner->data().variance(), options).front().grid;
  }
  if (request.edit_inputs.defined()) options.start_time = request.edit_time;
  return options;
}

std::string describe_grid(const TimeGrid& grid, Predictor predictor) {
  if (predictor == Predictor::heun) return fmt::format("EDM's sigma grid (rho {:g})", grid.rho);
  return grid.kind == GridKind::uniform ? std::string("uniform")
                                        : fmt::format("power (rho {:g})", grid.rho);
}

/// Restores a module's train/eval mode when it goes out of scope.
class EvalMode {
 public:
  explicit EvalMode(UNet net) : net_(std::move(net)), was_training_(net_->is_training()) {
    net_->eval();
  }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;
  EvalMode(EvalMode&&) = delete;
  EvalMode& operator=(EvalMode&&) = delete;
  ~EvalMode() { net_->train(was_training_); }

 private:
  UNet net_;
  bool was_training_;
};

/// Γ for the posterior sampler from the request's held-out images, or null
/// when it does not apply (no images, not a linear process, not a denoiser).
std::shared_ptr<const PosteriorVarianceTable> x0_variance_table(ProcessModel& model, UNet& net,
                                                                const NetworkHead& head,
                                                                const GenerateRequest& request) {
  if (!request.held_out.defined() || head.parameterisation != Parameterisation::denoiser ||
      model.linear() == nullptr) {
    return nullptr;
  }
  const SamplerOptions options = sampler_options(request, model, head);
  if (options.predictor != Predictor::posterior) return nullptr;
  const std::vector<double> grid = sampler_times(model, options);
  // Up to 32 of the grid's step-start times (Γ is interpolated in between).
  const std::size_t starts = grid.size() - 1;
  const std::size_t stride = (starts + 31) / 32;
  std::vector<double> times;
  for (std::size_t i = 0; i < starts; i += stride) times.push_back(grid[i]);
  times.push_back(grid[starts - 1]);
  NetworkDenoiser denoiser(net, model, *head.preconditioner, head.time_input);
  const at::Device device = net->parameters().front().device();
  return std::make_shared<const PosteriorVarianceTable>(PosteriorVarianceTable::estimate(
      model, denoiser, request.held_out.to(device), times, request.seed ^ 0x6a3aULL));
}

at::Tensor generate_batch(ProcessModel& model, UNet& net, const NetworkHead& head,
                          const std::optional<GaussianPrior>& prior, const GenerateRequest& request,
                          const std::shared_ptr<const PosteriorVarianceTable>& gamma,
                          std::int64_t first, std::int64_t n, std::int64_t done,
                          std::int64_t total) {
  const at::Device device = net->parameters().front().device();
  const at::Tensor ids = at::arange(first, first + n, at::TensorOptions().dtype(at::kLong));
  const at::Tensor labels = sample_labels(request, net->options().num_classes, first, n, device);
  const auto progress = [&](std::int64_t step, std::int64_t) {
    if (request.progress) request.progress(done + step, total);
  };
  const std::int64_t channels = net->options().in_channels;
  if (head.objective == ObjectiveKind::flow_matching) {
    NoiseSource noise;
    noise.seed = request.seed;
    noise.step = kPriorStep;
    noise.sample_ids = ids.to(device);
    const at::Tensor like = at::empty({n, channels, model.height(), model.width()},
                                      at::TensorOptions().dtype(at::kFloat).device(device));
    at::Tensor z = model.white_noise(like, noise);
    FlowSamplerOptions options;
    if (request.edit_inputs.defined()) {
      // The flow's own path: x_s = (1 − s) x + s z.
      options.start = request.edit_time;
      z = flow_edit_start(request.edit_inputs, ids, request.edit_time, z);
    }
    options.steps = request.steps;
    options.heun = request.integrator != config::Integrator::euler;
    options.progress = progress;
    const Network velocity = [&net, &labels, &request](const at::Tensor& x, const at::Tensor& t) {
      return guided_output(net, x, t, labels, request.guidance);
    };
    return sample_flow(velocity, z, options);
  }
  if (!prior && !request.prior_images.defined() && !request.edit_inputs.defined()) {
    throw std::invalid_argument("generate: no prior at T (the checkpoint has none)");
  }
  SamplerOptions options = sampler_options(request, model, head);
  if (gamma) options.x0_variance = [gamma](double t) { return (*gamma)(t); };
  options.sample_ids = ids;
  options.progress = progress;
  at::Tensor x_T;
  if (request.edit_inputs.defined()) {
    x_T = edit_start(model, request.edit_inputs, request.edit_time, request.seed, ids, device);
  } else if (request.prior_images.defined()) {
    x_T = simulate_prior(model, request.prior_images, request.seed, ids, device);
  } else {
    x_T = draw_prior(model, *prior, n, request.seed, ids, device);
  }
  if (head.parameterisation == Parameterisation::denoiser) {
    if (!head.preconditioner) {
      throw std::invalid_argument("generate: a denoiser network needs the data's spectrum");
    }
    NetworkDenoiser denoiser(net, model, *head.preconditioner, head.time_input);
    denoiser.set_labels(labels, request.guidance);
    return sample(model, denoiser, x_T, options);
  }
  NetworkScore score(net, model, head.time_input);
  score.set_labels(labels, request.guidance);
  return sample(model, score, x_T, options);
}

}  // namespace

GenerateRequest generate_request(const config::RunConfig& config) {
  const config::SampleSection& sample = config.sample;
  GenerateRequest request;
  request.n = sample.n;
  request.batch_size = sample.batch_size;
  request.seed = sample.seed;
  request.sampler = sample.sampler;
  request.integrator = sample.integrator;
  request.steps = sample.steps;
  request.corrector_steps = sample.corrector_steps;
  request.snr = sample.snr;
  request.denoise = sample.denoise;
  request.grid = sample.grid;
  request.rho = sample.rho;
  request.eta = sample.eta;
  request.order = sample.order;
  request.churn = sample.churn;
  request.clip_lo = config.data.range == ValueRange::zero_one ? 0.0 : -1.0;
  request.clip_hi = 1.0;
  if (sample.label) request.label = *sample.label;
  request.guidance = sample.guidance;
  return request;
}

at::Tensor sample_labels(const GenerateRequest& request, std::int64_t num_classes,
                         std::int64_t first, std::int64_t n, const at::Device& device) {
  if (num_classes <= 0) return {};
  if (request.label && (*request.label < 0 || *request.label >= num_classes)) {
    throw std::invalid_argument("sample.label = " + std::to_string(*request.label) +
                                " is not a class of this model (0.." +
                                std::to_string(num_classes - 1) + ")");
  }
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto id = static_cast<std::uint64_t>(first + i);
    labels[static_cast<std::size_t>(i)] =
        request.label ? *request.label
                      : static_cast<std::int64_t>(mix(request.seed, id, 0x1abe1ULL) %
                                                  static_cast<std::uint64_t>(num_classes));
  }
  return at::tensor(labels, at::TensorOptions().dtype(at::kLong)).to(device);
}

NetworkHead network_head(ObjectiveKind objective, Parameterisation parameterisation,
                         const std::optional<GaussianPrior>& data_spectrum) {
  NetworkHead head;
  head.objective = objective;
  head.parameterisation = parameterisation;
  if (parameterisation == Parameterisation::denoiser) {
    if (!data_spectrum) throw std::invalid_argument("a denoiser network needs its data spectrum");
    head.preconditioner.emplace(*data_spectrum);
  }
  return head;
}

ResolvedSampler resolve_sampler(const GenerateRequest& request, ProcessModel& model,
                                const NetworkHead& head) {
  ResolvedSampler resolved;
  resolved.name = sampler_name(request, model, head);
  if (head.objective == ObjectiveKind::flow_matching) return resolved;
  const SamplerOptions options = sampler_options(request, model, head);
  resolved.time_grid = options.grid;
  resolved.grid = describe_grid(options.grid, options.predictor);
  if ((options.predictor == Predictor::posterior || options.predictor == Predictor::exponential) &&
      head.preconditioner) {
    resolved.grid +=
        fmt::format("{}, Gaussian-oracle error {:.3g}",
                    request.grid == config::GridChoice::automatic ? " chosen by the oracle" : "",
                    gaussian_oracle_error(model, head.preconditioner->data().variance(), options));
  }
  resolved.warning = stability_warning(model, options);
  return resolved;
}

at::Tensor generate(ProcessModel& model, UNet net, ObjectiveKind objective,
                    const std::optional<GaussianPrior>& prior, const GenerateRequest& request) {
  NetworkHead head;
  head.objective = objective;
  return generate(model, std::move(net), head, prior, request);
}

at::Tensor generate(ProcessModel& model, UNet net, const NetworkHead& head,
                    const std::optional<GaussianPrior>& prior, const GenerateRequest& request) {
  if (request.n < 1 || request.batch_size < 1 || request.first < 0) {
    throw std::invalid_argument("generate: sample.n and sample.batch_size must be >= 1");
  }
  const EvalMode eval(net);
  const at::NoGradGuard no_grad;
  const std::int64_t batches = (request.n + request.batch_size - 1) / request.batch_size;
  const std::int64_t per_batch = request.steps;  // predictor steps (progress units)
  GenerateRequest once = request;                // the grid ranked once for all batches
  if (!once.chosen_grid && head.objective != ObjectiveKind::flow_matching) {
    once.chosen_grid = sampler_options(request, model, head).grid;
  }
  const auto gamma = x0_variance_table(model, net, head, once);
  std::vector<at::Tensor> out;
  for (std::int64_t b = 0; b < batches; ++b) {
    const std::int64_t offset = b * request.batch_size;
    const std::int64_t first = request.first + offset;
    const std::int64_t n = std::min(request.batch_size, request.n - offset);
    out.push_back(generate_batch(model, net, head, prior, once, gamma, first, n, b * per_batch,
                                 batches * per_batch)
                      .to(at::kCPU, at::kFloat));
  }
  return at::cat(out, 0);
}

std::int64_t non_finite_images(const at::Tensor& images) {
  if (images.numel() == 0) return 0;
  return (~at::isfinite(images)).flatten(1).any(1).sum().item<std::int64_t>();
}

std::string non_finite_message(std::int64_t k, std::int64_t n) {
  // Two causes measured (docs/results.md): an explicit reverse step of a
  // stiff drift (a mode decaying at rate Λ ≈ 8·max g₁ is multiplied by
  // 1 − hΛ per step, which grows once hΛ > 2), and network errors amplified
  // where the forward process has erased the signal (heat-like drifts at
  // large t, where the marginal's scale C_t is tiny in the high modes).
  return fmt::format(
      "{} of {} samples are not finite (NaN or inf): the sampler diverged on them. Stiff or "
      "ill-conditioned drifts (heat-like processes: an explicit step needs h·8·max g1 < 2, and "
      "network errors grow where the forward process erased the signal) need more sample.steps, "
      "another sample.sampler or a better-trained network (docs/results.md)",
      k, n);
}

}  // namespace spdec::runtime
