#include "runtime/nn/autoencoder.hpp"

#include <torch/nn/functional/activation.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/upsampling.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace spdec::runtime {
namespace {

torch::nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).stride(stride));
}

/// GroupNorm with min(32, C/4) groups (the U-Net's rule), per sample.
torch::nn::GroupNorm group_norm(std::int64_t channels) {
  const std::int64_t groups = std::max<std::int64_t>(1, std::min<std::int64_t>(32, channels / 4));
  if (channels % groups != 0) {
    throw std::invalid_argument("autoencoder: " + std::to_string(channels) +
                                " channels cannot be split into min(32, C/4) GroupNorm groups; "
                                "choose autoencoder.channels a multiple of 4 (e.g. 32 or 64)");
  }
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(1e-6));
}

/// GroupNorm → SiLU → conv → GroupNorm → SiLU → conv, added to the input
/// (latent diffusion's ResnetBlock without the time embedding and dropout).
class ResidualBlockImpl : public torch::nn::Module {
 public:
  explicit ResidualBlockImpl(std::int64_t channels)
      : norm0_(register_module("norm0", group_norm(channels))),
        conv0_(register_module("conv0", conv3x3(channels, channels))),
        norm1_(register_module("norm1", group_norm(channels))),
        conv1_(register_module("conv1", conv3x3(channels, channels))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor h = conv0_->forward(torch::silu(norm0_->forward(x)));
    h = conv1_->forward(torch::silu(norm1_->forward(h)));
    return x + h;
  }

 private:
  torch::nn::GroupNorm norm0_;
  torch::nn::Conv2d conv0_;
  torch::nn::GroupNorm norm1_;
  torch::nn::Conv2d conv1_;
};
TORCH_MODULE(ResidualBlock);

std::int64_t levels_of(std::int64_t factor) {
  std::int64_t levels = 0;
  while ((std::int64_t{1} << levels) < factor) ++levels;
  return levels;
}

std::string shape_text(const torch::Tensor& x) {
  std::string text = "[";
  for (std::int64_t i = 0; i < x.dim(); ++i)
    text += (i > 0 ? ", " : "") + std::to_string(x.size(i));
  return text + "]";
}

}  // namespace

AutoencoderImpl::AutoencoderImpl(const AutoencoderOptions& options) : options_(options) {
  const std::int64_t f = options.factor;
  if (f < 1 || (f & (f - 1)) != 0) {
    throw std::invalid_argument("autoencoder: the factor must be a power of two, got " +
                                std::to_string(f));
  }
  if (options.image_channels < 1 || options.latent_channels < 1 || options.channels < 1) {
    throw std::invalid_argument("autoencoder: channel counts must be positive");
  }
  const std::int64_t levels = levels_of(f);
  const std::int64_t widest = options.channels << levels;
  torch::nn::Sequential encoder;
  encoder->push_back(conv3x3(options.image_channels, options.channels));
  for (std::int64_t level = 0; level < levels; ++level) {
    const std::int64_t width = options.channels << level;
    encoder->push_back(ResidualBlock(width));
    encoder->push_back(conv3x3(width, 2 * width, 2));
  }
  encoder->push_back(ResidualBlock(widest));
  encoder->push_back(group_norm(widest));
  encoder->push_back(torch::nn::SiLU());
  encoder->push_back(conv3x3(widest, 2 * options.latent_channels));
  encoder_ = register_module("encoder", encoder);

  torch::nn::Sequential decoder;
  decoder->push_back(conv3x3(options.latent_channels, widest));
  decoder->push_back(ResidualBlock(widest));
  for (std::int64_t level = levels - 1; level >= 0; --level) {
    const std::int64_t width = options.channels << level;
    decoder->push_back(torch::nn::Upsample(torch::nn::UpsampleOptions()
                                               .scale_factor(std::vector<double>{2.0, 2.0})
                                               .mode(torch::kNearest)));
    decoder->push_back(conv3x3(2 * width, width));
    decoder->push_back(ResidualBlock(width));
  }
  decoder->push_back(group_norm(options.channels));
  decoder->push_back(torch::nn::SiLU());
  decoder->push_back(conv3x3(options.channels, options.image_channels));
  decoder_ = register_module("decoder", decoder);
}

LatentPosterior AutoencoderImpl::encode(const torch::Tensor& x) {
  const std::int64_t f = options_.factor;
  if (x.dim() != 4 || x.size(1) != options_.image_channels || x.size(2) % f != 0 ||
      x.size(3) % f != 0 || x.size(2) == 0 || x.size(3) == 0) {
    throw std::invalid_argument(
        "autoencoder: expected images [N, " + std::to_string(options_.image_channels) +
        ", H, W] with H and W multiples of " + std::to_string(f) + ", got " + shape_text(x));
  }
  const torch::Tensor moments = encoder_->forward(x);
  const std::int64_t c = options_.latent_channels;
  return {moments.narrow(1, 0, c), moments.narrow(1, c, c).clamp(-30.0, 20.0)};
}

torch::Tensor AutoencoderImpl::decode(const torch::Tensor& z) {
  if (z.dim() != 4 || z.size(1) != options_.latent_channels) {
    throw std::invalid_argument("autoencoder: expected latents [N, " +
                                std::to_string(options_.latent_channels) + ", h, w], got " +
                                shape_text(z));
  }
  return decoder_->forward(z);
}

std::int64_t AutoencoderImpl::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace spdec::runtime
