#include "runtime/run/sample_run.hpp"

#include <fmt/format.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "runtime/base/data_error.hpp"
#include "runtime/base/npy.hpp"
#include "runtime/base/progress.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/data/image_grid.hpp"
#include "runtime/run/run_setup.hpp"
#include "runtime/run/train_run.hpp"
#include "runtime/run/trained_run.hpp"
#include "runtime/sampling/data_prior.hpp"
#include "runtime/sampling/generate.hpp"
#include "runtime/sampling/generate_on_ranks.hpp"
#include "runtime/training/checkpoint.hpp"
#include "runtime/training/objective.hpp"

namespace spdec::runtime {

SampleRunFiles run_sample(const config::RunConfig& config, const lang::Process& process,
                          std::ostream& log) {
  RankGroup alone;
  return run_sample(config, process, log, alone);
}

SampleRunFiles run_sample(const config::RunConfig& config, const lang::Process& process,
                          std::ostream& log, RankGroup& ranks) {
  apply_thread_count(config, ranks.local_size());
  const at::Device device = choose_device(config.run.device, ranks);
  TrainedRun run = open_trained_run(config, process, device);
  ProcessModel& model = *run.model;
  const std::filesystem::path& file = run.checkpoint;
  const CheckpointHeader& header = run.header;
  const ObjectiveChoice& objective = run.objective;
  UNet& net = run.net;
  const NetworkHead& head = run.head;
  const std::optional<GaussianPrior>& prior = run.prior;

  GenerateRequest request = generate_request(config);
  if (config.sample.variance_correction) {
    // Held out: the split the network was not trained on.
    config::DataSection held = config.data;
    held.split = config::other_split(config.data.split);
    held.flip = false;
    if (!config::has_splits(held.dataset)) {
      log << "sample: data set \"" << name(held.dataset)
          << "\" has no splits, so the variance correction's held-out images are training "
             "images: the denoiser's error on them, and the correction, come out too small"
          << std::endl;
    }
    request.held_out = to_model_space(
        run, load_dataset(dataset_spec(held, config.sample.variance_images)).to_float().to(device));
  }
  request.prior_images = prior_images(config, run, device, log);
  const ResolvedSampler sampler = resolve_sampler(request, model, head);
  request.chosen_grid = sampler.time_grid;
  if (run.latent) {
    log << "sample: in the latent space of " << run.latent->codec().description() << ", scale "
        << run.latent->scale() << "; the draws are decoded" << std::endl;
  }
  log << "sample: " << request.n << " images from " << file.string() << " (step " << header.step
      << ", " << (config.sample.ema ? "EMA" : "raw") << " weights, objective "
      << name(header.objective) << ", " << name(header.parameterisation) << " network), sampler "
      << (objective.kind == ObjectiveKind::flow_matching
              ? "flow ODE (" + std::string(name(request.integrator)) + ")"
              : sampler.name)
      << ", " << request.steps << " steps"
      << (sampler.grid.empty() ? "" : ", time grid " + sampler.grid) << std::endl;
  if (!sampler.warning.empty()) log << "sample: warning: " << sampler.warning << std::endl;
  if (ranks.size() > 1) {
    log << "sample: " << ranks.size() << " ranks (" << ranks.backend() << "), each drawing its "
        << "shard of the " << request.n << " samples" << std::endl;
  }
  std::optional<Progress> bar;
  if (ranks.is_root()) {
    request.progress = [&bar, &log](std::int64_t done, std::int64_t total) {
      if (!bar)
        bar.emplace("sample", 0, total, log, Progress::stderr_is_terminal(), total / 10 + 1);
      bar->update(done);
    };
  }
  const ValueRange range = config.data.range;
  const at::Tensor drawn =
      generate_on_ranks(ranks, model, net, head, prior, request, "the gather of the samples");
  if (bar) bar->finish();
  const SampleRunFiles files{config::run_path(config, config.sample.output + ".png"),
                             config::run_path(config, config.sample.output + ".npy")};
  if (!ranks.is_root()) return files;
  const at::Tensor images = clamp_to_range(to_image_space(run, drawn), range);
  const std::int64_t non_finite = non_finite_images(images);
  if (non_finite > 0) {
    log << "sample: warning: " << non_finite_message(non_finite, images.size(0)) << std::endl;
  }

  std::filesystem::create_directories(config.run.dir);
  // sample.output may name a subfolder of run.dir.
  std::filesystem::create_directories(files.npy.parent_path());
  write_npy(files.npy, images.contiguous());
  GridOptions grid;
  grid.range = range;
  save_image_grid(files.png, images, grid);
  log << "wrote " << files.png.string() << " and " << files.npy.string() << std::endl;
  // Files of nothing but NaN are not a result: the job fails (exit 1) once
  // they are written, so that a script sees the divergence.
  if (non_finite == images.size(0)) {
    throw std::runtime_error("every sample is non-finite (" +
                             non_finite_message(images.size(0), images.size(0)) +
                             "): the network or the sampler diverged; see " + files.npy.string());
  }
  return files;
}

}  // namespace spdec::runtime
