// What every `spdec run` job builds from a run config before it does its
// own work: the device, the data set, and the process bound to its kernels
// (runtime/process/process_model.hpp). One place, so that `forward`, `train`,
// `sample` and `eval` read the config the same way.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>

#include "lang/process.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/nn/unet.hpp"
#include "runtime/process/process_model.hpp"

namespace spdec::runtime {

/// run.device: auto (CUDA when LibTorch sees a GPU), cpu or cuda; throws
/// std::runtime_error for cuda without a GPU.
[[nodiscard]] at::Device choose_device(config::Device device);

/// Applies run.threads (0: every core) to LibTorch's intra-op pool.
void apply_thread_count(const config::RunConfig& config);

/// [data] as a DatasetSpec; `limit` > 0 keeps at most that many images (on
/// top of data.n).
[[nodiscard]] DatasetSpec dataset_spec(const config::DataSection& data, std::int64_t limit = 0);

/// The run's process on an height × width grid, bound to the kernels of
/// process.backend on `device`.
[[nodiscard]] std::unique_ptr<ProcessModel> make_run_model(const config::RunConfig& config,
                                                           const lang::Process& process,
                                                           std::int64_t height, std::int64_t width,
                                                           const at::Device& device);

/// [model] as U-Net options for images of `channels` × `size` × `size`.
[[nodiscard]] UNetOptions unet_options(const config::ModelSection& model, std::int64_t channels,
                                       std::int64_t size);

/// A fingerprint of the process a checkpoint was trained for: the resolved
/// process (its name, semantics, parameters after overrides, time grid,
/// boundary and the canonical text of its drift, diffusion and noise), so a
/// checkpoint is refused for any other process.
[[nodiscard]] std::string process_fingerprint(const lang::Process& process,
                                              const std::string& flow_scheme = {});

}  // namespace spdec::runtime
