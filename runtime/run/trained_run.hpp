// A trained run opened for sampling: the checkpoint (sample.checkpoint, or
// run.dir's), checked against the run's process and [model], the process
// model at the checkpoint's image shape, the network with its weights (EMA
// unless sample.ema = false), how its output is read, the Gaussian prior
// fitted at T, and the prior images `sample.prior` asks for. What
// `spdec run sample`, `eval` and `edit` share before they draw.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>

#include "lang/process.hpp"
#include "runtime/config/run_config.hpp"
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
};

/// Throws naming what is wrong: no checkpoint, one for another process or
/// network, a damaged file.
[[nodiscard]] TrainedRun open_trained_run(const config::RunConfig& config,
                                          const lang::Process& process, const at::Device& device);

/// The training images the prior at T is drawn from (`sample.prior`), or an
/// undefined tensor for the checkpoint's Gaussian; the log says which, and
/// for `auto` why.
[[nodiscard]] at::Tensor prior_images(const config::RunConfig& config, ProcessModel& model,
                                      ObjectiveKind objective, const at::Device& device,
                                      std::ostream& log);

}  // namespace spdec::runtime
