// `spdec run autoencoder`: train the run's autoencoder (runtime/nn/autoencoder.hpp,
// the loss of runtime/training/autoencoder_loss.hpp; sizes and training in
// [autoencoder]) on the run's data, measure how well it reconstructs images
// it did not train on — PSNR, SSIM (runtime/eval/image_quality.hpp) and,
// when eval.classifier or eval.feature_extractor is set, the FID of the
// reconstructions against their originals with the noise floor beside it —
// and write into run.dir:
//
//   model.autoencoder (default autoencoder.pt)  the network (runtime/nn/autoencoder_file.hpp)
//   autoencoder.json        the measurements
//   autoencoder.png         originals and their reconstructions, row pairs
//   autoencoder_log.jsonl   a line per autoencoder.log_every steps: step,
//                           loss, reconstruction, kl
//
// Training then runs in its latent space wherever model.autoencoder names
// the file (docs/latent.md).
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>

#include "runtime/config/run_config.hpp"

namespace spdec::runtime {

struct AutoencoderRunResult {
  std::filesystem::path file;
  std::filesystem::path json;
  std::filesystem::path png;
  double psnr = 0.0;
  double ssim = 0.0;
  std::optional<double> fid;              ///< with a feature extractor
  std::optional<double> fid_noise_floor;  ///< the other split's images, where there is one
};

/// Where `spdec run autoencoder` writes: model.autoencoder, else
/// <run.dir>/autoencoder.pt.
[[nodiscard]] std::filesystem::path autoencoder_path(const config::RunConfig& config);

/// Throws std::runtime_error naming what is wrong (data, a non-finite loss,
/// a model.autoencoder that is a user's TorchScript file, I/O).
AutoencoderRunResult run_autoencoder(const config::RunConfig& config, std::ostream& log);

}  // namespace spdec::runtime
