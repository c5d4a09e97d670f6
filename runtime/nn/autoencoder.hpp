// A small convolutional autoencoder with a diagonal-Gaussian latent, the
// first stage of latent diffusion (Rombach, Blattmann, Lorenz, Esser, Ommer,
// "High-Resolution Image Synthesis with Latent Diffusion Models", 2022,
// arXiv:2112.10752, its "KL-reg." autoencoder at a small scale): images
// [N, C, S, S] in the data range to latents [N, latent_channels, S/f, S/f]
// and back, f = factor = 2^levels.
//
//   encoder  conv 3×3 (C → channels); per level a residual block and a
//            stride-2 conv 3×3 that doubles the width; a residual block;
//            GroupNorm → SiLU → conv 3×3 to 2·latent_channels: the mean and
//            log-variance of q(z | x)
//   decoder  conv 3×3 (latent_channels → the widest); a residual block; per
//            level nearest ×2 + conv 3×3 halving the width, a residual block;
//            GroupNorm → SiLU → conv 3×3 to C
//
// Every normalisation is per sample (GroupNorm), so an image's code does not
// depend on its batch. The losses are runtime/training/autoencoder_loss.hpp's.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace spdec::runtime {

struct AutoencoderOptions {
  std::int64_t image_channels = 1;
  std::int64_t latent_channels = 4;
  std::int64_t factor = 4;     ///< a power of two: the latent side is the image side / factor
  std::int64_t channels = 64;  ///< the first level's width, doubled at each downsampling
  friend bool operator==(const AutoencoderOptions&, const AutoencoderOptions&) = default;
};

/// q(z | x): the mean and the log-variance (clamped to [−30, 20] as latent
/// diffusion's DiagonalGaussianDistribution does), each [N, latent_channels, h, w].
struct LatentPosterior {
  torch::Tensor mean;
  torch::Tensor log_variance;
};

class AutoencoderImpl : public torch::nn::Module {
 public:
  /// Throws std::invalid_argument for a factor that is not a power of two,
  /// non-positive channel counts, or widths GroupNorm cannot split.
  explicit AutoencoderImpl(const AutoencoderOptions& options);

  /// x [N, image_channels, H, W] with H and W multiples of factor; a wrong
  /// shape throws std::invalid_argument saying the expected one.
  LatentPosterior encode(const torch::Tensor& x);
  /// z [N, latent_channels, h, w] → images [N, image_channels, h·f, w·f].
  torch::Tensor decode(const torch::Tensor& z);

  [[nodiscard]] const AutoencoderOptions& options() const { return options_; }
  [[nodiscard]] std::int64_t parameter_count() const;

 private:
  AutoencoderOptions options_;
  torch::nn::Sequential encoder_{nullptr};
  torch::nn::Sequential decoder_{nullptr};
};
TORCH_MODULE(Autoencoder);

}  // namespace spdec::runtime
