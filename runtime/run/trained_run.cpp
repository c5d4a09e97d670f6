#include "runtime/run/trained_run.hpp"

#include <stdexcept>
#include <string>
#include <utility>

#include "runtime/base/data_error.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/run/run_setup.hpp"
#include "runtime/run/train_run.hpp"
#include "runtime/sampling/data_prior.hpp"
#include "runtime/training/learned_schedule.hpp"

namespace spdec::runtime {
namespace {

std::filesystem::path chosen_checkpoint(const config::RunConfig& config) {
  const std::filesystem::path file = config.sample.checkpoint.empty()
                                         ? checkpoint_path(config)
                                         : std::filesystem::path(config.sample.checkpoint);
  if (!std::filesystem::exists(file)) {
    throw std::runtime_error("no checkpoint at " + file.string() +
                             ": train first (spdec run train " + config.source_path +
                             ") or pass --checkpoint PATH");
  }
  return file;
}

/// The checkpoint's [model] must be this config's: the network is rebuilt
/// from the config.
void check_same_network(const config::RunConfig& config, const CheckpointHeader& header,
                        const std::filesystem::path& file) {
  lang::Diagnostics diagnostics;
  config::LoadOptions options;
  options.check_process = false;
  const auto trained = config::parse_run_config(header.config, file.string() + " (config)",
                                                config.run.dir, {}, diagnostics, options);
  if (!trained) return;  // an older schema: the tensor shapes still guard the load
  if (!(trained->model == config.model)) {
    throw std::runtime_error("checkpoint " + file.string() +
                             " was trained with a different [model] section than " +
                             config.source_path + "; sample with the run's own config");
  }
}

}  // namespace

std::vector<std::int64_t> image_shape(const TrainedRun& run) {
  return run.header.latent ? run.header.latent->image_shape : run.header.image_shape;
}

at::Tensor to_model_space(const TrainedRun& run, const at::Tensor& images) {
  return run.latent ? run.latent->encode(images) : images;
}

at::Tensor to_image_space(const TrainedRun& run, const at::Tensor& drawn) {
  return run.latent ? run.latent->decode(drawn) : drawn;
}

at::Tensor prior_images(const config::RunConfig& config, const TrainedRun& run,
                        const at::Device& device, std::ostream& log) {
  using config::SamplePrior;
  if (run.objective.kind == ObjectiveKind::flow_matching) return {};
  at::Tensor images;  // `fitted` needs no images: decide_prior keeps the checkpoint's
  if (config.sample.prior != SamplePrior::fitted) {
    config::DataSection data = config.data;
    data.flip = false;
    try {
      images = to_model_space(
          run, load_run_dataset(dataset_spec(data, config.sample.prior_images), log, "sample")
                   .to_float()
                   .to(device));
    } catch (const DataError& e) {
      if (config.sample.prior == SamplePrior::simulate) throw;
      log << "sample: prior at T: the checkpoint's Gaussian fit (the training images, which "
             "sample.prior = \"auto\" would check, are not readable: "
          << e.what() << ")" << std::endl;
      return {};
    }
  }
  PriorDecision decision =
      decide_prior(config.sample.prior, *run.model, images, config.sample.seed);
  log << "sample: prior at T: " << decision.reason << std::endl;
  return std::move(decision.images);
}

TrainedRun open_trained_run(const config::RunConfig& config, const lang::Process& process,
                            const at::Device& device) {
  TrainedRun run;
  run.checkpoint = chosen_checkpoint(config);
  run.header = read_checkpoint_header(run.checkpoint);
  check_same_network(config, run.header, run.checkpoint);
  const auto& shape = run.header.image_shape;
  run.model = make_run_model(config, process, shape[1], shape[2], device);
  const std::string fingerprint = process_fingerprint(process, run.model->flow_scheme());
  require_checkpoint_process(
      run.checkpoint, run.header, fingerprint,
      [&](const CheckpointHeader& h) { return process_mismatch(h, config, process); });
  run.objective = choose_objective(run.header.objective, *run.model);
  run.latent = trained_latent_space(config, run.header, run.checkpoint, device);
  run.net = UNet(unet_options(config.model, shape[0], shape[1]));
  std::optional<GaussianPrior> data_spectrum;
  CheckpointParts parts;
  (config.sample.ema ? parts.ema : parts.model) = run.net.get();
  std::optional<LearnedSchedules> schedules;
  if (!process.learnables.empty()) {
    schedules.emplace(process);
    parts.schedules = &*schedules;
  }
  (void)load_checkpoint(run.checkpoint, fingerprint, parts, &run.prior, &run.model->noise().basis(),
                        &data_spectrum);
  if (schedules) {
    require_sampler_for_learned_knots(config, process);
    // The learned knots (the init's where the checkpoint holds none): the
    // model, and through it every sampler and the evaluation, follows them.
    run.knots = schedules->values();
    run.model = make_run_model(config, process, shape[1], shape[2], device, &run.knots);
  }
  run.net->to(device);
  run.head = network_head(run.objective.kind, run.header.parameterisation, data_spectrum);
  run.head.time_input = config.model.time_input;
  return run;
}

}  // namespace spdec::runtime
