// Training checkpoints: everything a run needs to continue exactly where it
// stopped, or to sample. One file, written atomically (temp file + rename),
// so a kill at any moment leaves the previous checkpoint intact; the file it
// replaces is kept as checkpoint.prev.pt. The archive is followed by a
// checksum trailer (FNV-1a 64 of its bytes), verified before anything is
// loaded: a damaged file is refused naming it and the previous one. Weights
// that are not finite are never written, and refused on load.
//
//   format        "spdec-checkpoint-1"
//   process       process_fingerprint (runtime/run/run_setup.hpp): a checkpoint
//                 is refused for any other process
//   config        the resolved run config (TOML text)
//   process_source  the .spde's text (absent in older files): a refusal for
//                 another process can then say which line changed
//   objective     the objective it was trained with
//   step          completed optimiser steps
//   image_shape   C, H, W of the training images
//   model/…, ema/…  parameters and buffers by name
//   optimizer     Adam's state (moments and step counts)
//   prior/mean, prior/variance   the prior at T (absent for flow matching)
//   parameterisation   "noise" or "denoiser" (absent in older files: noise)
//   data/mean, data/variance     the training data's mean image and
//                 per-mode variance (the denoiser's preconditioning)
//   schedule/…    the learned knots' parameters by schedule name, and
//   schedule_optimizer   their Adam state (a process with learnable
//                 schedules; docs/learnable_schedules.md)
//   latent/scale, latent/autoencoder, latent/image_shape   a latent run's
//                 (docs/latent.md): the latent scale, the autoencoder's
//                 fingerprint, C, H, W of the images it encodes (absent for
//                 a run on the pixels)
//
// Randomness needs no saved state: every draw of a training step (data
// order, times, noise, dropout) is keyed by (train.seed, step).
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/adam.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lang/training_plan.hpp"
#include "runtime/spectral/prior.hpp"

namespace spdec::runtime {

/// Where save_checkpoint keeps the checkpoint it replaces: checkpoint.prev.pt
/// beside checkpoint.pt.
[[nodiscard]] std::filesystem::path previous_checkpoint_path(const std::filesystem::path& file);

/// A latent run's: what turns its latents back into images.
struct LatentHeader {
  double scale = 1.0;                     ///< runtime/nn/latent_space.hpp
  std::string autoencoder;                ///< LatentCodec::fingerprint of model.autoencoder
  std::vector<std::int64_t> image_shape;  ///< C, H, W of the images (image_shape is the latents')
};

struct CheckpointHeader {
  std::string process;         ///< fingerprint
  std::string config;          ///< resolved TOML
  std::string process_source;  ///< the .spde's text; empty in older files
  lang::ObjectiveKind objective = lang::ObjectiveKind::exact;
  lang::Parameterisation parameterisation = lang::Parameterisation::noise;
  std::int64_t step = 0;
  std::vector<std::int64_t> image_shape;  ///< C, H, W of the training images (latents)
  std::optional<LatentHeader> latent;     ///< a latent run's; nullopt on the pixels
};

struct CheckpointParts {
  torch::nn::Module* model = nullptr;
  torch::nn::Module* ema = nullptr;
  torch::optim::Optimizer* optimizer = nullptr;  ///< may be null (sampling)
  /// The learned knots (runtime/training/learned_schedule.hpp) and their
  /// optimiser's state; null for a process without learnable schedules.
  torch::nn::Module* schedules = nullptr;
  torch::optim::Optimizer* schedule_optimizer = nullptr;
};

/// Writes a checkpoint atomically, keeping the one it replaces as
/// previous_checkpoint_path(file); throws std::runtime_error naming the file
/// on an I/O failure, or when the model or EMA weights are not finite (then
/// nothing is written).
void save_checkpoint(const std::filesystem::path& file, const CheckpointHeader& header,
                     const CheckpointParts& parts, const std::optional<GaussianPrior>& prior,
                     const std::optional<GaussianPrior>& data_spectrum = std::nullopt);

/// The bytes save_checkpoint would write (checksum trailer included), in
/// memory: the state rank 0 sends to the other ranks of a data-parallel job.
/// Throws std::runtime_error when the model or EMA weights are not finite.
[[nodiscard]] std::string checkpoint_bytes(
    const CheckpointHeader& header, const CheckpointParts& parts,
    const std::optional<GaussianPrior>& prior,
    const std::optional<GaussianPrior>& data_spectrum = std::nullopt);

/// The header alone (cheap checks before building a network).
[[nodiscard]] CheckpointHeader read_checkpoint_header(const std::filesystem::path& file);

/// What differs between a checkpoint's process and the run's, one line per
/// difference ("process.flow: \"explicit\" in the checkpoint's run, \"fed\"
/// here"); runtime/run/run_setup.hpp's process_mismatch is the one the jobs use.
using ProcessMismatch = std::function<std::vector<std::string>(const CheckpointHeader&)>;

/// Throws the error load_checkpoint gives when `header` is not of the
/// process with fingerprint `expected`: the differences `explain` finds,
/// then both fingerprints.
void require_checkpoint_process(const std::filesystem::path& file, const CheckpointHeader& header,
                                const std::string& expected, const ProcessMismatch& explain = {});

/// Loads into the given parts (each may be null to skip it) and returns the
/// header. Throws std::runtime_error naming the file when it is missing (or
/// a dangling link), damaged (checksum), not a spdec checkpoint, trained for
/// another process (expected_process is compared unless empty), its tensors
/// do not fit the network, or its weights are not finite.
CheckpointHeader load_checkpoint(const std::filesystem::path& file,
                                 const std::string& expected_process, const CheckpointParts& parts,
                                 std::optional<GaussianPrior>* prior, const SpectralBasis* basis,
                                 std::optional<GaussianPrior>* data_spectrum = nullptr,
                                 const ProcessMismatch& explain = {});

/// load_checkpoint from checkpoint_bytes' bytes; `name` names them in
/// errors (e.g. "the state rank 0 sent").
CheckpointHeader load_checkpoint_bytes(const std::string& bytes, const std::filesystem::path& name,
                                       const std::string& expected_process,
                                       const CheckpointParts& parts,
                                       std::optional<GaussianPrior>* prior,
                                       const SpectralBasis* basis,
                                       std::optional<GaussianPrior>* data_spectrum = nullptr);

}  // namespace spdec::runtime
