// A trained run opened for sampling: the checkpoint (sample.checkpoint, or
// run.dir's), checked against the run's process and [model], the process
// model at the checkpoint's image shape, the network with its weights (EMA
// unless sample.ema = false), how its output is read, the Gaussian prior
// fitted at T, and the prior images `sample.prior` asks for; in a latent run
// (docs/latent.md) the autoencoder, checked against the checkpoint, that
// takes images to the model's space and its draws back to images. What
// `spdec run sample`, `eval` and `edit` share before they draw.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <vector>

#include "lang/process.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/nn/latent_space.hpp"
#include "runtime/nn/unet.hpp"
#include "runtime/process/process_model.hpp"
#include "runtime/sampling/generate.hpp"
#include "runtime/spectral/prior.hpp"
#include "runtime/training/checkpoint.hpp"
#include "runtime/training/objective.hpp"

namespace spdec::runtime {

struct TrainedRun {
  std::filesystem::path checkpoint;
  CheckpointHeader header;
  std::unique_ptr<ProcessModel> model;
  ObjectiveChoice objective;
  UNet net{nullptr};
  NetworkHead head;
  std::optional<GaussianPrior> prior;
  std::optional<LatentSpace> latent;  ///< a latent run's; nullopt on the pixels
  /// The learnable schedules' knots the model uses (the checkpoint's); empty
  /// for a process without them.
  KnotValues knots;
};

/// C, H, W of the images the run draws (the latents' in header.image_shape
/// for a latent run).
[[nodiscard]] std::vector<std::int64_t> image_shape(const TrainedRun& run);

/// Images in the data range → what the run's model sees (their latents in a
/// latent run, the images themselves otherwise).
[[nodiscard]] at::Tensor to_model_space(const TrainedRun& run, const at::Tensor& images);

/// The model's draws → images in the data range (decoded in a latent run; not clamped).
[[nodiscard]] at::Tensor to_image_space(const TrainedRun& run, const at::Tensor& drawn);

/// Throws naming what is wrong: no checkpoint, one for another process or
/// network, a damaged file.
[[nodiscard]] TrainedRun open_trained_run(const config::RunConfig& config,
                                          const lang::Process& process, const at::Device& device);

/// The training images the prior at T is drawn from (`sample.prior`), or an
/// undefined tensor for the checkpoint's Gaussian; the log says which, and
/// for `auto` why.
[[nodiscard]] at::Tensor prior_images(const config::RunConfig& config, const TrainedRun& run,
                                      const at::Device& device, std::ostream& log);

}  // namespace spdec::runtime
