#include "runtime/run/run_setup.hpp"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include "lang/hash.hpp"
#include "runtime/process/bind.hpp"

namespace spdec::runtime {

at::Device choose_device(config::Device device) {
  if (device == config::Device::cuda || (device == config::Device::automatic && at::hasCUDA())) {
    if (!at::hasCUDA()) throw std::runtime_error("run.device = \"cuda\" but LibTorch sees no GPU");
    return at::kCUDA;
  }
  return at::kCPU;
}

void apply_thread_count(const config::RunConfig& config) {
  // LibTorch's default is the number of physical cores (1 on a 2-vCPU
  // machine); run.threads = 0 means every hardware thread.
  const unsigned hardware = std::max(1U, std::thread::hardware_concurrency());
  at::set_num_threads(config.run.threads > 0 ? config.run.threads : static_cast<int>(hardware));
}

DatasetSpec dataset_spec(const config::DataSection& data, std::int64_t limit) {
  DatasetSpec spec;
  spec.kind = data.dataset;
  spec.path = data.path;
  spec.split = data.split;
  spec.channels = data.channels;
  spec.size = data.size;
  spec.range = data.range;
  spec.flip = data.flip;
  spec.limit = data.n;
  if (limit > 0) spec.limit = spec.limit > 0 ? std::min(spec.limit, limit) : limit;
  return spec;
}

std::unique_ptr<ProcessModel> make_run_model(const config::RunConfig& config,
                                             const lang::Process& process, std::int64_t height,
                                             std::int64_t width, const at::Device& device) {
  Binding binding;
  binding.backend = config.process.backend;
  binding.device = device;
  binding.height = height;
  binding.width = width;
  binding.model.flow = config.process.flow;
  binding.model.fed_cycles = config.process.fed_cycles;
  return bind_process(std::make_shared<const lang::Process>(process), binding).model;
}

UNetOptions unet_options(const config::ModelSection& model, std::int64_t channels,
                         std::int64_t size) {
  UNetOptions options;
  options.in_channels = channels;
  options.image_size = size;
  options.base_channels = model.base_channels;
  options.channel_mult.assign(model.channel_mult.begin(), model.channel_mult.end());
  options.num_res_blocks = model.num_res_blocks;
  options.attention_resolutions.assign(model.attention_resolutions.begin(),
                                       model.attention_resolutions.end());
  options.dropout = model.dropout;
  options.embedding = model.embedding;
  options.fourier_scale = model.fourier_scale;
  options.num_classes = model.class_conditional ? model.num_classes : 0;
  return options;
}

std::string process_fingerprint(const lang::Process& process, const std::string& flow_scheme) {
  // The file's text stands for the drift, diffusion and noise: any edit,
  // even a comment, gives a new fingerprint (refusing a checkpoint wrongly
  // is cheap; sampling a network with the wrong process is not).
  std::string key =
      process.name + "|" + lang::name(process.semantics) + "|" + lang::name(process.boundary.kind) +
      fmt::format("|{:.17g}|{:.17g}|{:.17g}", process.time.t0, process.time.T, process.time.dt);
  for (const lang::Param& param : process.params) {
    key += fmt::format("|{}={:.17g}", param.name, param.value);
  }
  if (process.file) key += "|" + process.file->text();
  // A flow other than the process's own discretisation defines another
  // X_t | x₀ (an empty scheme keeps the fingerprints of earlier versions).
  if (!flow_scheme.empty()) key += "|flow " + flow_scheme;
  // So does a decoupled reading whose noise decays with the drift's linear
  // rate (earlier versions added it undamped).
  if (process.training.model == lang::ModelKind::decoupled &&
      process.classification.pointwise_rate.rate) {
    key += "|noise decays";
  }
  return fmt::format("{}-{:016x}", process.name, lang::fnv1a64(key));
}

}  // namespace spdec::runtime
