#include "runtime/run/forward_run.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "codegen/pipeline.hpp"
#include "lang/lint.hpp"
#include "runtime/base/atomic_write.hpp"
#include "runtime/base/npy.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/data/image_folder.hpp"
#include "runtime/data/image_grid.hpp"
#include "runtime/kernels/process_kernels.hpp"
#include "runtime/process/forward_simulation.hpp"
#include "runtime/run/run_setup.hpp"
#include "runtime/spectral/noise_operator.hpp"
#include "runtime/training/checkpoint.hpp"

namespace spdec::runtime {
namespace {

/// x₀ leaves this much of its variance explained at T before we call the
/// process information-preserving (a generative prior needs ≈ 0).
constexpr double kExplainedAtTWarning = 0.05;

/// The first `images` data images (or the `forward.input` files) as float32.
at::Tensor initial_images(const config::RunConfig& config, std::ostream& log) {
  const auto range = config.data.range;
  const std::int64_t wanted = config.forward.images;
  at::Tensor bytes;
  if (!config.forward.input.empty()) {
    std::vector<at::Tensor> images;
    std::vector<std::filesystem::path> files;
    const int channels = config.data.channels == 0 ? 1 : config.data.channels;
    for (const std::string& file : config.forward.input) {
      images.push_back(read_image(file, channels));
      files.emplace_back(file);
    }
    bytes = stack_images(images, files);
    if (config.data.size > 0) bytes = resize_or_pad(bytes, config.data.size, config.data.size);
  } else {
    DatasetSpec spec = dataset_spec(config.data, wanted);
    spec.flip = false;  // the strip shows the data as stored
    bytes = load_run_dataset(spec, log, "forward").images;
  }
  return to_float(bytes, range).contiguous();
}

std::vector<double> strip_times(const config::RunConfig& config, const lang::Process& process) {
  if (!config.forward.time_list.empty()) return config.forward.time_list;
  // Evenly spaced on [0, T]: the first column is the data itself.
  const int n = std::max(config.forward.times, 2);
  std::vector<double> times;
  for (int i = 0; i < n; ++i) times.push_back(process.time.T * i / (n - 1));
  return times;
}

std::string time_label(double t) {
  std::array<char, 32> text{};
  // Short enough for a 28-32 px column in the 5x7 font (6 px a character).
  std::snprintf(text.data(), text.size(), "%.2g", t);  // NOLINT: bounded, fixed format
  return text.data();
}

std::vector<std::string> warnings_for(const lang::Process& process,
                                      const std::vector<SnapshotStats>& stats) {
  std::vector<std::string> warnings;
  if (const auto bound = lang::stability_bound(process); bound) {
    const double ratio = bound->ratio(process.time.dt);
    if (!(ratio <= 1.0)) {
      warnings.push_back("explicit step unstable: 4 dt max k = " + std::to_string(ratio) +
                         " > 1 (at t = " + std::to_string(bound->at_time) +
                         "); taming or a smaller dt keeps the simulation bounded");
    }
  }
  const SnapshotStats& last = stats.back();
  if (last.t >= process.time.T && last.explained > kExplainedAtTWarning) {
    warnings.push_back("information not destroyed at T: x0 still explains " +
                       std::to_string(100.0 * last.explained) +
                       "% of x_T's variance; the prior at T will not be data-independent");
  }
  return warnings;
}

/// A latent run's forward strip: the images' codes over the latent scale —
/// the trained checkpoint's where run.dir holds one, else the standard
/// deviation of the strip's own codes (training estimates it on the whole
/// training set).
std::optional<LatentSpace> strip_latent_space(const config::RunConfig& config,
                                              const at::Tensor& images, const at::Device& device,
                                              std::ostream& log) {
  const std::shared_ptr<LatentCodec> codec = open_run_codec(config, images.size(1), device);
  if (!codec) return std::nullopt;
  const std::filesystem::path checkpoint = config::run_path(config, "checkpoint.pt");
  std::error_code ec;
  if (std::filesystem::is_regular_file(checkpoint, ec)) {
    const CheckpointHeader header = read_checkpoint_header(checkpoint);
    require_checkpoint_latent(checkpoint, header, codec.get());
    log << "forward: latent space of " << codec->description() << ", the scale "
        << header.latent->scale << " of " << checkpoint.string() << std::endl;
    return LatentSpace(codec, header.latent->scale);
  }
  const double scale = latent_scale(encode_in_batches(*codec, images));
  log << "forward: latent space of " << codec->description() << ", scale " << scale
      << " (the standard deviation of these " << images.size(0)
      << " images' codes; no checkpoint yet)" << std::endl;
  return LatentSpace(codec, scale);
}

nlohmann::json report(const config::RunConfig& config, const lang::Process& process,
                      const std::string& backend, const ForwardResult& result) {
  nlohmann::json stats = nlohmann::json::array();
  std::vector<double> times;
  for (const SnapshotStats& s : result.stats) {
    times.push_back(s.t);
    stats.push_back({{"t", s.t},
                     {"mean", s.mean},
                     {"std", s.std},
                     {"explained_variance", s.explained},
                     {"edge_energy", s.edge_energy}});
  }
  return {{"process", process.name},
          {"semantics", lang::name(process.semantics)},
          {"backend", backend},
          {"seed", config.forward.seed},
          {"images", result.states.size(1)},
          {"shape", result.states.sizes().vec()},
          {"times", times},
          {"stats", stats},
          {"warnings", warnings_for(process, result.stats)}};
}

}  // namespace

ForwardRunFiles run_forward(const config::RunConfig& config, const lang::Process& process,
                            std::ostream& log) {
  apply_thread_count(config);
  const at::Device device = choose_device(config.run.device);
  auto shared_process = std::make_shared<const lang::Process>(process);
  auto program = std::make_shared<const codegen::StencilProgram>(codegen::build_program(process));
  const auto kernels = make_kernels(config.process.backend, shared_process, program, device);

  const at::Tensor images = initial_images(config, log).to(device);
  const std::optional<LatentSpace> latent = strip_latent_space(config, images, device, log);
  // The process runs on the latents of a latent run; the strip shows them decoded.
  const at::Tensor x0 = latent ? latent->encode(images) : images;
  warn_about_channels(process, x0.size(1), log, "forward");
  const NoiseOperator noise(process, x0.size(2), x0.size(3));
  ForwardOptions options;
  options.times = strip_times(config, process);
  options.seed = config.forward.seed;
  log << "forward: " << process.name << " (" << lang::name(process.semantics) << ", "
      << kernels->backend() << ") on " << x0.size(0) << " images " << x0.size(1) << "x"
      << x0.size(2) << "x" << x0.size(3) << ", " << options.times.size()
      << " times up to t = " << options.times.back() << std::endl;
  const ForwardResult result = simulate_forward(*kernels, process, noise, x0, options);

  std::filesystem::create_directories(config.run.dir);
  ForwardRunFiles files{config::run_path(config, config.forward.png),
                        config::run_path(config, config.forward.npy),
                        config::run_path(config, config.forward.json)};
  const at::Tensor states = result.states.to(at::kCPU).contiguous();
  write_npy(files.npy, states);
  // Rows = images, columns = times.
  GridOptions grid;
  grid.rows = states.size(1);
  grid.cols = states.size(0);
  grid.range = config.data.range;
  for (const double t : options.times) grid.col_labels.push_back(time_label(t));
  const at::Tensor cells = states.transpose(0, 1).flatten(0, 1).contiguous();
  save_image_grid(
      files.png,
      latent ? clamp_to_range(latent->decode(cells.to(device)).to(at::kCPU), config.data.range)
             : cells,
      grid);
  nlohmann::json json = report(config, process, kernels->backend(), result);
  if (latent) {
    json["latent"] = {{"autoencoder", latent->codec().file().string()},
                      {"scale", latent->scale()},
                      {"png", "decoded states"},
                      {"npy", "latent states"}};
  }
  write_file_atomically(files.json, json.dump(2) + "\n");
  for (const auto& warning : json["warnings"])
    log << "warning: " << warning.get<std::string>() << "\n";
  log << "wrote " << files.png.string() << ", " << files.npy.string() << ", " << files.json.string()
      << std::endl;
  return files;
}

}  // namespace spdec::runtime
