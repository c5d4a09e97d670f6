#include "runtime/run/autoencoder_run.hpp"

#include <fmt/format.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "lang/os_reason.hpp"
#include "runtime/base/atomic_write.hpp"
#include "runtime/base/data_error.hpp"
#include "runtime/base/progress.hpp"
#include "runtime/data/batch_loader.hpp"
#include "runtime/data/image_grid.hpp"
#include "runtime/eval/feature_extractor.hpp"
#include "runtime/eval/image_quality.hpp"
#include "runtime/eval/metrics.hpp"
#include "runtime/nn/autoencoder_file.hpp"
#include "runtime/nn/latent_codec.hpp"
#include "runtime/nn/latent_space.hpp"
#include "runtime/run/run_setup.hpp"
#include "runtime/training/autoencoder_loss.hpp"

namespace spdec::runtime {
namespace {

/// Image pairs (original above, reconstruction below) in autoencoder.png.
constexpr std::int64_t kGridColumns = 8;
constexpr std::int64_t kGridPairs = 2;

/// The images the measurements use: eval.split's first eval.n where the data
/// set has splits (images training did not see), else the data's own.
struct HeldOut {
  at::Tensor images;  ///< float, data range
  std::string name;
  at::Tensor other;  ///< as many of the other split's (the FID noise floor), or undefined
};

HeldOut held_out_images(const config::RunConfig& config, std::ostream& log) {
  config::DataSection data = config.data;
  data.flip = false;
  HeldOut out;
  if (!config::has_splits(data.dataset)) {
    out.images = load_run_dataset(dataset_spec(data, config.eval.n), log, "autoencoder").to_float();
    out.name = "the training images (the data set has no splits)";
    return out;
  }
  data.split = config.eval.split;
  out.images = load_run_dataset(dataset_spec(data, config.eval.n), log, "autoencoder").to_float();
  out.name = fmt::format("the {} split", name(data.split));
  data.split = config::other_split(data.split);
  out.other =
      load_run_dataset(dataset_spec(data, out.images.size(0)), log, "autoencoder").to_float();
  return out;
}

/// Reconstructions through the posterior mean, in the data range, clamped.
at::Tensor reconstruct(Autoencoder& net, const at::Tensor& images, config::ValueRange range,
                       const at::Device& device) {
  const at::NoGradGuard no_grad;
  net->eval();
  std::vector<at::Tensor> parts;
  for (std::int64_t first = 0; first < images.size(0); first += kCodecBatch) {
    const std::int64_t n = std::min(kCodecBatch, images.size(0) - first);
    const at::Tensor x = to_symmetric_range(images.narrow(0, first, n).to(device), range);
    const at::Tensor y = net->decode(net->encode(x).mean);
    parts.push_back(clamp_to_range(from_symmetric_range(y, range), range).to(at::kCPU));
  }
  net->train();
  return at::cat(parts);
}

void write_grid(const std::filesystem::path& file, const at::Tensor& originals,
                const at::Tensor& reconstructions, config::ValueRange range) {
  const std::int64_t pairs =
      std::min<std::int64_t>(kGridPairs, (originals.size(0) + kGridColumns - 1) / kGridColumns);
  std::vector<at::Tensor> rows;
  std::vector<std::string> labels;
  for (std::int64_t p = 0; p < pairs; ++p) {
    const std::int64_t first = p * kGridColumns;
    const std::int64_t n = std::min(kGridColumns, originals.size(0) - first);
    if (n < kGridColumns && p > 0) break;  // a short row would break the grid
    rows.push_back(originals.narrow(0, first, n));
    rows.push_back(reconstructions.narrow(0, first, n));
    labels.emplace_back("data");
    labels.emplace_back("rec");
  }
  GridOptions grid;
  grid.cols = rows.front().size(0);
  grid.rows = static_cast<std::int64_t>(rows.size());
  grid.range = range;
  grid.row_labels = labels;
  save_image_grid(file, at::cat(rows), grid);
}

class AutoencoderTrainer {
 public:
  AutoencoderTrainer(const config::RunConfig& config, std::ostream& log)
      : config_(config), log_(log) {}

  AutoencoderRunResult run() {
    apply_thread_count(config_);
    device_ = choose_device(config_.run.device);
    result_.file = autoencoder_path(config_);
    refuse_foreign_file();
    const Dataset data = load_run_dataset(dataset_spec(config_.data), log_, "autoencoder");
    build(data);
    train(data);
    measure();
    write();
    return result_;
  }

 private:
  /// model.autoencoder may name a user's TorchScript pair: never overwrite it.
  void refuse_foreign_file() const {
    std::error_code ec;
    if (std::filesystem::exists(result_.file, ec) && !is_spdec_autoencoder(result_.file)) {
      throw std::runtime_error(fmt::format(
          "model.autoencoder = \"{}\" is not a spdec autoencoder (a TorchScript export?); `spdec "
          "run autoencoder` would overwrite it: point model.autoencoder at another file",
          result_.file.string()));
    }
  }

  void build(const Dataset& data) {
    const std::int64_t side = data.images.size(2);
    if (side % config_.autoencoder.factor != 0 || data.images.size(3) != side) {
      throw std::runtime_error(fmt::format(
          "autoencoder: images {}x{} do not divide into autoencoder.factor = {} (data.size)", side,
          data.images.size(3), config_.autoencoder.factor));
    }
    options_.image_channels = data.images.size(1);
    options_.latent_channels = config_.autoencoder.latent_channels;
    options_.factor = config_.autoencoder.factor;
    options_.channels = config_.autoencoder.channels;
    torch::manual_seed(config_.autoencoder.seed);
    net_ = Autoencoder(options_);
    net_->to(device_);
    log_ << fmt::format(
                "autoencoder: {} images {}x{}x{} -> latents {}x{}x{}; width {}, {} parameters, "
                "kl_weight {:g}, {} scales; {} steps of {} on {}",
                data.size(), options_.image_channels, side, side, options_.latent_channels,
                side / options_.factor, side / options_.factor, options_.channels,
                net_->parameter_count(), config_.autoencoder.kl_weight, config_.autoencoder.scales,
                config_.autoencoder.steps, config_.autoencoder.batch_size,
                device_.is_cuda() ? "cuda" : cpu_threads_text(at::get_num_threads()))
         << std::endl;
  }

  void train(const Dataset& data) {
    const config::AutoencoderSection& ae = config_.autoencoder;
    torch::optim::Adam adam(net_->parameters(), torch::optim::AdamOptions(ae.lr));
    LoaderOptions options;
    options.batch_size = ae.batch_size;
    options.seed = ae.seed;
    options.drop_last = ae.batch_size <= data.size();
    BatchLoader loader(data, options);
    std::filesystem::create_directories(config_.run.dir);
    const std::filesystem::path log_file = config::run_path(config_, "autoencoder_log.jsonl");
    std::ofstream jsonl(log_file, std::ios::trunc);
    if (!jsonl) throw DataError(log_file, "cannot open the log: " + lang::os_reason());
    Progress progress("autoencoder", 0, ae.steps, log_, Progress::stderr_is_terminal(),
                      ae.log_every);
    const auto began = std::chrono::steady_clock::now();
    for (std::int64_t step = 0; step < ae.steps; ++step) {
      const at::Tensor x = to_symmetric_range(loader.next().images.to(device_), config_.data.range);
      const AutoencoderLoss loss = autoencoder_loss(net_, x, ae.kl_weight, ae.scales);
      const double value = loss.total.item<double>();
      if (!std::isfinite(value)) {
        throw std::runtime_error(fmt::format(
            "autoencoder: the loss at step {} is {}; nothing was written: lower autoencoder.lr "
            "(e.g. autoencoder.lr={:g}) and run again",
            step + 1, value, ae.lr / 10));
      }
      adam.zero_grad();
      loss.total.backward();
      adam.step();
      progress.update(step + 1, value);
      if ((step + 1) % ae.log_every == 0 || step + 1 == ae.steps) {
        jsonl << nlohmann::json{{"step", step + 1},
                                {"loss", value},
                                {"reconstruction", loss.reconstruction},
                                {"kl", loss.kl}}
                     .dump()
              << std::endl;
      }
    }
    progress.finish();
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  }

  void measure() {
    const config::ValueRange range = config_.data.range;
    const HeldOut held = held_out_images(config_, log_);
    originals_ = held.images;
    reconstructions_ = reconstruct(net_, originals_, range, device_);
    result_.psnr = mean_psnr(reconstructions_, originals_, range);
    result_.ssim = mean_ssim(reconstructions_, originals_, range);
    report_ = {{"steps", config_.autoencoder.steps},
               {"seconds", seconds_},
               {"parameters", net_->parameter_count()},
               {"images", originals_.size(0)},
               {"measured_on", held.name},
               {"psnr_db", result_.psnr},
               {"ssim", result_.ssim}};
    if (config_.eval.classifier.empty() && config_.eval.feature_extractor.empty()) {
      log_ << "autoencoder: no FID (set eval.classifier or eval.feature_extractor for the FID of "
              "the reconstructions)"
           << std::endl;
      return;
    }
    const auto extractor = make_feature_extractor(config_.eval, range, device_);
    const std::int64_t batch = config_.eval.batch_size;
    const FeatureStatistics reference =
        feature_statistics(extractor->extract(originals_, batch).features);
    result_.fid = frechet_distance(
        feature_statistics(extractor->extract(reconstructions_, batch).features), reference);
    report_["fid"] = *result_.fid;
    report_["feature_extractor"] = extractor->description();
    if (held.other.defined()) {
      result_.fid_noise_floor = frechet_distance(
          feature_statistics(extractor->extract(held.other, batch).features), reference);
      report_["fid_noise_floor"] = *result_.fid_noise_floor;
    }
  }

  void write() {
    report_["file"] = result_.file.string();
    report_["options"] = {{"latent_channels", options_.latent_channels},
                          {"factor", options_.factor},
                          {"channels", options_.channels},
                          {"kl_weight", config_.autoencoder.kl_weight},
                          {"scales", config_.autoencoder.scales}};
    std::filesystem::create_directories(result_.file.parent_path());
    save_autoencoder(result_.file, net_, originals_.size(2), report_.dump());
    result_.json = config::run_path(config_, "autoencoder.json");
    write_file_atomically(result_.json, report_.dump(2) + "\n");
    result_.png = config::run_path(config_, "autoencoder.png");
    write_grid(result_.png, originals_, reconstructions_, config_.data.range);
    std::string line = fmt::format("autoencoder: on {} images of {}: PSNR {:.2f} dB, SSIM {:.4f}",
                                   originals_.size(0), report_["measured_on"].get<std::string>(),
                                   result_.psnr, result_.ssim);
    if (result_.fid) line += fmt::format(", FID of the reconstructions {:.3f}", *result_.fid);
    if (result_.fid_noise_floor) {
      line += fmt::format(" (noise floor {:.3f})", *result_.fid_noise_floor);
    }
    log_ << line << "\nwrote " << result_.file.string() << ", " << result_.json.string() << ", "
         << result_.png.string() << std::endl;
    if (!config::is_latent(config_)) {
      log_ << "autoencoder: to train in its latent space, set model.autoencoder = \""
           << result_.file.filename().string() << "\" (relative to run.dir; docs/latent.md)"
           << std::endl;
    }
  }

  const config::RunConfig& config_;
  std::ostream& log_;
  at::Device device_{at::kCPU};
  AutoencoderOptions options_;
  Autoencoder net_{nullptr};
  double seconds_ = 0.0;
  at::Tensor originals_;
  at::Tensor reconstructions_;
  nlohmann::json report_;
  AutoencoderRunResult result_;
};

}  // namespace

std::filesystem::path autoencoder_path(const config::RunConfig& config) {
  return config::is_latent(config) ? std::filesystem::path(config.model.autoencoder)
                                   : config::run_path(config, "autoencoder.pt");
}

AutoencoderRunResult run_autoencoder(const config::RunConfig& config, std::ostream& log) {
  AutoencoderTrainer trainer(config, log);
  return trainer.run();
}

}  // namespace spdec::runtime
