// autoencoder.pt: spdec's own autoencoder (runtime/nn/autoencoder.hpp) with
// its options and what `spdec run autoencoder` measured. Written by that
// job, read through runtime/nn/latent_codec.hpp wherever model.autoencoder
// names it; one owner for the format on both sides.
//
//   format     "spdec-autoencoder-1"
//   options    image_channels, latent_channels, factor, channels
//   image_side the side of the images it was trained on
//   report     the job's measurements, JSON text (PSNR, SSIM, FID, steps)
//   encoder/…, decoder/…  the weights
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "runtime/nn/autoencoder.hpp"

namespace spdec::runtime {

struct LoadedAutoencoder {
  Autoencoder net{nullptr};
  std::int64_t image_side = 0;
  std::string report;  ///< JSON text
};

/// Writes the network (moved to the CPU) atomically.
void save_autoencoder(const std::filesystem::path& file, Autoencoder& net, std::int64_t image_side,
                      const std::string& report);

/// Whether `file` is a spdec autoencoder (false for a missing file, a
/// TorchScript module of a user's, or junk).
[[nodiscard]] bool is_spdec_autoencoder(const std::filesystem::path& file);

/// Reads autoencoder.pt; throws std::runtime_error naming the file when it
/// is missing or not a spdec autoencoder.
[[nodiscard]] LoadedAutoencoder load_autoencoder(const std::filesystem::path& file);

}  // namespace spdec::runtime
