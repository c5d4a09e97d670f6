// The space a latent run's process and network live in: the autoencoder's
// codes divided by the latent scale, the standard deviation of the training
// set's codes, so that the data the process starts from has unit variance
// whatever the autoencoder (latent diffusion's scale_factor, its reciprocal:
// Rombach et al. 2022, arXiv:2112.10752, Sec. 4.3.2 and Appendix G). The
// scale is estimated once, when training starts, and kept in the checkpoint
// like the prior (runtime/training/checkpoint.hpp).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include "runtime/data/dataset.hpp"
#include "runtime/nn/latent_codec.hpp"

namespace spdec::runtime {

/// Images (or codes) per call of the autoencoder when a whole set goes through it.
inline constexpr std::int64_t kCodecBatch = 256;

class LatentSpace {
 public:
  LatentSpace(std::shared_ptr<LatentCodec> codec, double scale);

  /// Images [N, C, S, S] in the data range → latents [N, C_lat, s, s] (codes / scale),
  /// kCodecBatch at a time, on the images' device.
  [[nodiscard]] at::Tensor encode(const at::Tensor& images) const;
  /// Latents → images in the data range (not clamped), on the latents' device.
  [[nodiscard]] at::Tensor decode(const at::Tensor& latents) const;

  [[nodiscard]] double scale() const { return scale_; }
  [[nodiscard]] LatentCodec& codec() const { return *codec_; }

 private:
  std::shared_ptr<LatentCodec> codec_;
  double scale_;
};

/// The latent scale of a set of codes: their standard deviation over every
/// entry (a scale of exactly 0, a set of one constant code, is refused).
[[nodiscard]] double latent_scale(const at::Tensor& codes);

/// `data`'s images through codec.encode, kCodecBatch at a time with a
/// progress line for `job`: a data set of float32 codes (unscaled; labels
/// kept; no flips) that the batch loader hands out as they are.
[[nodiscard]] Dataset encode_dataset(const Dataset& data, LatentCodec& codec, std::ostream& log,
                                     const std::string& job);

/// codec.encode or .decode over `values`, kCodecBatch at a time, on their device.
[[nodiscard]] at::Tensor encode_in_batches(LatentCodec& codec, const at::Tensor& images);
[[nodiscard]] at::Tensor decode_in_batches(LatentCodec& codec, const at::Tensor& codes);

}  // namespace spdec::runtime
