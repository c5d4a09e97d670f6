// A run's latent space (docs/latent.md): the encoder/decoder pair that
// model.autoencoder names, behind one interface, whichever kind it is —
//   * spdec's own autoencoder.pt (`spdec run autoencoder`,
//     runtime/nn/autoencoder_file.hpp): its code is the posterior mean;
//   * a TorchScript module a user exported, with two methods (the contract):
//       encode(x: Tensor) -> Tensor   x float32 [N, C, H, W] in [−1, 1] →
//                                     [N, latent_channels, H/factor, W/factor]
//       decode(z: Tensor) -> Tensor   the inverse shapes, images in [−1, 1]
//     deterministic (a code, e.g. the posterior mean, not a sample); C, H, W
//     are the run's images (data.channels, data.size), latent_channels and
//     factor are [autoencoder]'s. No scaling: spdec estimates the latent
//     scale itself (runtime/nn/latent_space.hpp).
// Both are checked on opening: a probe batch goes through encode and decode,
// and a missing method, a wrong shape, a non-finite output or a file that is
// neither kind is an error naming the file and the keys.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "runtime/config/choices.hpp"

namespace spdec::runtime {

/// What the run expects of its autoencoder.
struct LatentShape {
  std::int64_t image_channels = 1;
  std::int64_t image_side = 32;
  std::int64_t latent_channels = 4;
  std::int64_t factor = 4;
  config::ValueRange range = config::ValueRange::minus_one_one;  ///< the data's

  [[nodiscard]] std::int64_t latent_side() const { return image_side / factor; }
};

class LatentCodec {
 public:
  LatentCodec() = default;
  LatentCodec(const LatentCodec&) = delete;
  LatentCodec& operator=(const LatentCodec&) = delete;
  LatentCodec(LatentCodec&&) = delete;
  LatentCodec& operator=(LatentCodec&&) = delete;
  virtual ~LatentCodec() = default;

  /// Images [N, C, S, S] in the data range → codes [N, latent_channels, s, s]
  /// (unscaled), without gradients, on the codec's device.
  [[nodiscard]] virtual at::Tensor encode(const at::Tensor& images) = 0;
  /// Codes → images in the data range (not clamped).
  [[nodiscard]] virtual at::Tensor decode(const at::Tensor& codes) = 0;
  /// "spdec autoencoder F (…)" or "TorchScript F": for logs.
  [[nodiscard]] virtual std::string description() const = 0;

  [[nodiscard]] const std::filesystem::path& file() const { return file_; }
  /// FNV-1a 64 of the file's bytes, hex: a checkpoint trained in this latent
  /// space is refused for any other autoencoder.
  [[nodiscard]] const std::string& fingerprint() const { return fingerprint_; }
  [[nodiscard]] const LatentShape& shape() const { return shape_; }

 protected:
  /// For the kinds' constructors: the file (its fingerprint read from it)
  /// and the shape the run expects.
  void bind(const std::filesystem::path& file, const LatentShape& shape);

 private:
  std::filesystem::path file_;
  std::string fingerprint_;
  LatentShape shape_;
};

/// Opens and checks `file` (either kind) for `shape` on `device`; throws
/// std::runtime_error naming the file.
[[nodiscard]] std::unique_ptr<LatentCodec> open_latent_codec(const std::filesystem::path& file,
                                                             const LatentShape& shape,
                                                             const at::Device& device);

/// A user's TorchScript pair (the contract above), unchecked: open_latent_codec
/// checks it. Kept apart because it is the one file that needs the JIT headers.
[[nodiscard]] std::unique_ptr<LatentCodec> torchscript_codec(const std::filesystem::path& file,
                                                             const LatentShape& shape,
                                                             const at::Device& device);

/// Data range → [−1, 1] and back (the autoencoders' convention).
[[nodiscard]] at::Tensor to_symmetric_range(const at::Tensor& images, config::ValueRange range);
[[nodiscard]] at::Tensor from_symmetric_range(const at::Tensor& images, config::ValueRange range);

/// "[2, 4, 8, 8]"
[[nodiscard]] std::string shape_text(const at::Tensor& tensor);

}  // namespace spdec::runtime
