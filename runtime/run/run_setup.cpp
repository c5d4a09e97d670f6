#include "runtime/run/run_setup.hpp"

#include <ATen/Parallel.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
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

at::Device choose_device(config::Device device, const RankGroup& ranks) {
  const at::Device chosen = choose_device(device);
  if (!chosen.is_cuda() || ranks.size() == 1) return chosen;
  const at::Device own = local_cuda_device(ranks.local_rank());
  c10::impl::getDeviceGuardImpl(at::kCUDA)->setDevice(own);
  return own;
}

void apply_thread_count(const config::RunConfig& config, int local_ranks) {
  // LibTorch's default is the number of physical cores (1 on a 2-vCPU
  // machine); run.threads = 0 means every hardware thread, shared by the
  // ranks of a job on this machine (more threads than cores only thrash).
  const auto hardware = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  at::set_num_threads(config.run.threads > 0 ? config.run.threads
                                             : std::max(1, hardware / std::max(1, local_ranks)));
}

std::string cpu_threads_text(int threads) {
  return fmt::format("cpu ({} thread{})", threads, threads == 1 ? "" : "s");
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

Dataset load_run_dataset(const DatasetSpec& spec, std::ostream& log, const std::string& job) {
  Dataset data = load_dataset(spec);
  for (const std::string& note : data.notes) log << job << ": " << note << "\n";
  return data;
}

void warn_about_channels(const lang::Process& process, std::int64_t channels, std::ostream& log,
                         const std::string& job) {
  if (process.channels != lang::Channels::coupled || channels != 1) return;
  log << job << ": warning: " << process.name
      << " declares `channels coupled`, but the data has one channel: there is nothing to "
         "couple, and the process runs as if independent (data.channels = 3, or colour data, "
         "to couple channels)"
      << std::endl;
}

void require_sampler_for_learned_knots(const config::RunConfig& config,
                                       const lang::Process& process) {
  if (process.learnables.empty() || config.train.schedule_lr <= 0) return;
  const config::Sampler sampler = config.sample.sampler;
  if (sampler != config::Sampler::pc && sampler != config::Sampler::ode) return;
  throw std::runtime_error(fmt::format(
      "sample.sampler = \"{}\" steps {} through its generated kernels, which keep the init "
      "knots of its learnable schedules, not the learned ones; use sample.sampler = \"auto\", "
      "\"posterior\", \"exponential\" or \"ancestral\" (docs/learnable_schedules.md)",
      config::name(sampler), process.name));
}

std::unique_ptr<ProcessModel> make_run_model(const config::RunConfig& config,
                                             const lang::Process& process, std::int64_t height,
                                             std::int64_t width, const at::Device& device,
                                             const KnotValues* knots) {
  Binding binding;
  binding.knots = knots;
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

LatentShape latent_shape(const config::RunConfig& config, std::int64_t image_channels) {
  LatentShape shape;
  shape.image_channels = image_channels;
  shape.image_side = config.data.size;
  shape.latent_channels = config.autoencoder.latent_channels;
  shape.factor = config.autoencoder.factor;
  shape.range = config.data.range;
  return shape;
}

std::shared_ptr<LatentCodec> open_run_codec(const config::RunConfig& config,
                                            std::int64_t image_channels, const at::Device& device) {
  if (!config::is_latent(config)) return nullptr;
  return open_latent_codec(config.model.autoencoder, latent_shape(config, image_channels), device);
}

void require_checkpoint_latent(const std::filesystem::path& checkpoint,
                               const CheckpointHeader& header, const LatentCodec* codec) {
  if (codec == nullptr && header.latent) {
    throw std::runtime_error(fmt::format(
        "checkpoint {} was trained in an autoencoder's latent space, but this run has no "
        "model.autoencoder; use the run's own config",
        checkpoint.string()));
  }
  if (codec == nullptr) return;
  if (!header.latent) {
    throw std::runtime_error(fmt::format(
        "checkpoint {} was trained on the pixels, but model.autoencoder = \"{}\" asks for a "
        "latent space; use another run.dir for the latent run",
        checkpoint.string(), codec->file().string()));
  }
  if (header.latent->autoencoder != codec->fingerprint()) {
    throw std::runtime_error(fmt::format(
        "checkpoint {} was trained in the latent space of another autoencoder than {} "
        "(fingerprints {} in the checkpoint, {} now): the file changed since, e.g. a new `spdec "
        "run autoencoder`; restore it, or train the run again (--fresh)",
        checkpoint.string(), codec->file().string(), header.latent->autoencoder,
        codec->fingerprint()));
  }
}

std::optional<LatentSpace> trained_latent_space(const config::RunConfig& config,
                                                const CheckpointHeader& header,
                                                const std::filesystem::path& checkpoint,
                                                const at::Device& device) {
  const std::int64_t channels =
      header.latent ? header.latent->image_shape[0] : header.image_shape[0];
  const std::shared_ptr<LatentCodec> codec = open_run_codec(config, channels, device);
  require_checkpoint_latent(checkpoint, header, codec.get());
  if (!codec) return std::nullopt;
  return LatentSpace(codec, header.latent->scale);
}

namespace {

/// Lines of a .spde text ("\r\n" or "\n").
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

/// A source line quoted in a message: trimmed, and cut where it is long.
std::string quoted_line(const std::vector<std::string>& lines, std::size_t i) {
  if (i >= lines.size()) return "(the file ends)";
  std::string line = lines[i];
  const auto first = line.find_first_not_of(" \t");
  line = first == std::string::npos ? "" : line.substr(first);
  constexpr std::size_t kLongest = 60;
  if (line.size() > kLongest) line = line.substr(0, kLongest) + "...";
  return "`" + line + "`";
}

}  // namespace

std::vector<std::string> process_mismatch(const CheckpointHeader& header,
                                          const config::RunConfig& config,
                                          const lang::Process& process) {
  std::vector<std::string> lines;
  lang::Diagnostics ignored;
  config::LoadOptions options;
  options.check_process = false;  // the checkpoint's .spde may be gone or edited
  const auto trained = config::parse_run_config(header.config, "<checkpoint config>",
                                                config.run.dir, {}, ignored, options);
  if (trained) {
    for (const auto& d : config::differing_keys(*trained, config, {"process"})) {
      if (d.key == "process.backend") continue;  // how, not what: not in the fingerprint
      lines.push_back(
          fmt::format("{}: {} in the checkpoint's run, {} here", d.key, d.first, d.second));
    }
  }
  if (!header.process_source.empty() && process.file &&
      header.process_source != process.file->text()) {
    const std::vector<std::string> before = lines_of(header.process_source);
    const std::vector<std::string> now = lines_of(process.file->text());
    std::size_t i = 0;
    while (i < before.size() && i < now.size() && before[i] == now[i]) ++i;
    lines.push_back(fmt::format("{} line {}: {} in the checkpoint's run, {} here",
                                config.process.file, i + 1, quoted_line(before, i),
                                quoted_line(now, i)));
  }
  return lines;
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
