// What every `spdec run` job builds from a run config before it does its
// own work: the device, the data set, and the process bound to its kernels
// (runtime/process/process_model.hpp). One place, so that `forward`, `train`,
// `sample` and `eval` read the config the same way.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "lang/process.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/distributed/rank_group.hpp"
#include "runtime/nn/latent_codec.hpp"
#include "runtime/nn/latent_space.hpp"
#include "runtime/nn/unet.hpp"
#include "runtime/process/process_model.hpp"
#include "runtime/training/checkpoint.hpp"

namespace spdec::runtime {

/// run.device: auto (CUDA when LibTorch sees a GPU), cpu or cuda; throws
/// std::runtime_error for cuda without a GPU.
[[nodiscard]] at::Device choose_device(config::Device device);

/// run.device for a rank of a data-parallel job: on CUDA the rank's own GPU,
/// cuda:<local rank> (made the current device, so that tensors created
/// without an index land there too).
[[nodiscard]] at::Device choose_device(config::Device device, const RankGroup& ranks);

/// Applies run.threads (0: every core) to LibTorch's intra-op pool; with
/// `local_ranks` ranks on this machine, 0 shares the cores among them.
void apply_thread_count(const config::RunConfig& config, int local_ranks = 1);

/// "cpu (1 thread)", "cpu (4 threads)": the device line of a run's log.
[[nodiscard]] std::string cpu_threads_text(int threads);

/// [data] as a DatasetSpec; `limit` > 0 keeps at most that many images (on
/// top of data.n).
[[nodiscard]] DatasetSpec dataset_spec(const config::DataSection& data, std::int64_t limit = 0);

/// load_dataset(spec), with what loading passed over (a folder's stray
/// files) written to `log` as "<job>: note" lines.
[[nodiscard]] Dataset load_run_dataset(const DatasetSpec& spec, std::ostream& log,
                                       const std::string& job);

/// A warning line "<job>: warning: ..." when the process couples channels
/// that the data does not have (`channels coupled` on one-channel images is
/// the independent process: nothing to couple).
void warn_about_channels(const lang::Process& process, std::int64_t channels, std::ostream& log,
                         const std::string& job);

/// Where a process's learnable schedules are trained (train.schedule_lr > 0):
/// refuses sample.sampler = pc or ode, which step the process through its
/// generated kernels, built with the spec's init knots (the other samplers
/// read the learned knots through the model's exact marginals). Names the
/// key and the samplers that work.
void require_sampler_for_learned_knots(const config::RunConfig& config,
                                       const lang::Process& process);

/// The run's process on an height × width grid, bound to the kernels of
/// process.backend on `device`; `knots`: learned knot values (copied), null
/// for the spec's init values.
[[nodiscard]] std::unique_ptr<ProcessModel> make_run_model(const config::RunConfig& config,
                                                           const lang::Process& process,
                                                           std::int64_t height, std::int64_t width,
                                                           const at::Device& device,
                                                           const KnotValues* knots = nullptr);

/// [model] as U-Net options for images of `channels` × `size` × `size`.
[[nodiscard]] UNetOptions unet_options(const config::ModelSection& model, std::int64_t channels,
                                       std::int64_t size);

/// Why the checkpoint `header` is not of this run's process, one line per
/// difference: the process keys of its training config that differ from
/// `config`'s (process.params.K, process.semantics, process.flow, ...), and
/// the first line where its .spde text differs from `process`'s. Empty when
/// neither explains it (an older checkpoint keeps no .spde text).
[[nodiscard]] std::vector<std::string> process_mismatch(const CheckpointHeader& header,
                                                        const config::RunConfig& config,
                                                        const lang::Process& process);

/// What the run expects of its autoencoder ([autoencoder], data.size,
/// data.range) for images of `image_channels` channels.
[[nodiscard]] LatentShape latent_shape(const config::RunConfig& config,
                                       std::int64_t image_channels);

/// The run's autoencoder (model.autoencoder), opened and checked for images
/// of `image_channels` × data.size × data.size; nullptr on the pixels.
[[nodiscard]] std::shared_ptr<LatentCodec> open_run_codec(const config::RunConfig& config,
                                                          std::int64_t image_channels,
                                                          const at::Device& device);

/// Throws, naming the checkpoint, unless `codec` is the autoencoder whose
/// latent space `header` was trained in (a checkpoint on the pixels and a
/// latent run, or the other way round, are refused too).
void require_checkpoint_latent(const std::filesystem::path& checkpoint,
                               const CheckpointHeader& header, const LatentCodec* codec);

/// A trained latent run's latent space (the autoencoder checked against the
/// checkpoint, with its scale); nullopt for a run on the pixels.
[[nodiscard]] std::optional<LatentSpace> trained_latent_space(
    const config::RunConfig& config, const CheckpointHeader& header,
    const std::filesystem::path& checkpoint, const at::Device& device);

/// A fingerprint of the process a checkpoint was trained for: the resolved
/// process (its name, semantics, parameters after overrides, time grid,
/// boundary and the canonical text of its drift, diffusion and noise), so a
/// checkpoint is refused for any other process.
[[nodiscard]] std::string process_fingerprint(const lang::Process& process,
                                              const std::string& flow_scheme = {});

}  // namespace spdec::runtime
