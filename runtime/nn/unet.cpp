// The NCSN++/DDPM++ U-Net score network (runtime/nn/unet.hpp). Module and
// initialisation choices follow score_sde (github.com/yang-song/score_sde_pytorch):
// models/layerspp.py (ResnetBlockDDPMpp, AttnBlockpp), models/layers.py
// (default_init, get_timestep_embedding, GaussianFourierProjection) and
// models/ncsnpp.py (the layout). Departures are noted where they are made.
#include "runtime/nn/unet.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/padding.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "runtime/nn/shard_dropout.hpp"

namespace spdec::runtime {

namespace {

namespace F = torch::nn::functional;

// skip_rescale: a residual sum (a + b) is scaled by 1/√2 so that the variance
// does not grow with depth (score_sde's NCSN++ default).
constexpr double kSkipRescale = 1.0 / std::numbers::sqrt2;
// score_sde's GroupNorm eps.
constexpr double kNormEps = 1e-6;
// DDPM's sinusoidal embedding takes integer steps 0..999; score_sde feeds it
// 999·t for continuous t in [0, 1] (losses.py, VP SDE), and so do we.
constexpr double kSinusoidalTimeScale = 999.0;
// The Fourier frequencies are a fixed random draw. A local generator with a
// fixed seed keeps construction from consuming the global RNG for them, so the
// parameters' init under torch::manual_seed does not depend on the embedding.
constexpr std::uint64_t kFourierSeed = 20210226;
// 2^(levels − 1) must stay far from overflow; real networks have ≤ 6 levels.
constexpr std::size_t kMaxLevels = 16;

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("UNet: " + what); }

std::string join(const std::vector<std::int64_t>& values) {
  std::ostringstream out;
  out << '{';
  for (std::size_t i = 0; i < values.size(); ++i) out << (i > 0 ? ", " : "") << values[i];
  out << '}';
  return out.str();
}

// ---- initialisation -------------------------------------------------------

/// score_sde's default_init: variance scaling, fan_avg, uniform, i.e.
/// U(−b, b) with b = √(3 · scale / ((fan_in + fan_out) / 2)); scale 0 gives
/// exact zeros (score_sde uses 1e-10 for "0"). Biases start at zero.
void init_weights(torch::Tensor& weight, torch::Tensor& bias, double scale) {
  torch::NoGradGuard no_grad;
  const auto receptive = weight.dim() > 2 ? weight[0][0].numel() : 1;
  const auto fan_in = static_cast<double>(weight.size(1) * receptive);
  const auto fan_out = static_cast<double>(weight.size(0) * receptive);
  if (scale == 0) {
    weight.zero_();
  } else {
    const double bound = std::sqrt(3.0 * scale / ((fan_in + fan_out) / 2.0));
    weight.uniform_(-bound, bound);
  }
  bias.zero_();
}

torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel,
                       std::int64_t stride = 1, double init_scale = 1.0) {
  torch::nn::Conv2d layer(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2));
  init_weights(layer->weight, layer->bias, init_scale);
  return layer;
}

torch::nn::Linear dense(std::int64_t in, std::int64_t out) {
  torch::nn::Linear layer(in, out);
  init_weights(layer->weight, layer->bias, 1.0);
  return layer;
}

/// GroupNorm with score_sde's group count min(32, C/4); channel counts that
/// do not split evenly are an option error, caught before torch's check.
torch::nn::GroupNorm group_norm(std::int64_t channels) {
  const std::int64_t groups = std::min<std::int64_t>(32, channels / 4);
  if (groups < 1 || channels % groups != 0) {
    fail("a layer with " + std::to_string(channels) +
         " channels cannot be split into min(32, C/4) GroupNorm groups; choose base_channels "
         "(a multiple of 4, of 32 above 128 channels) and channel_mult accordingly");
  }
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(kNormEps));
}

// ---- blocks ----------------------------------------------------------------

/// score_sde's ResnetBlockDDPMpp: GroupNorm → SiLU → conv → + Dense(SiLU(temb))
/// → GroupNorm → SiLU → Dropout → conv, a 1×1 conv on the skip path when the
/// channel count changes, (skip + h)/√2. score_sde zero-initialises the
/// second conv; we do not, so that every parameter gets a gradient from the
/// second step on (the output conv's zero init already makes s_θ ≡ 0).
class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(std::int64_t in, std::int64_t out, std::int64_t temb_channels, double dropout,
               std::shared_ptr<const Shard> rows)
      : norm0_(register_module("norm0", group_norm(in))),
        conv0_(register_module("conv0", conv(in, out, 3))),
        temb_proj_(register_module("temb_proj", dense(temb_channels, out))),
        norm1_(register_module("norm1", group_norm(out))),
        dropout_(register_module("dropout", ShardDropout(dropout, std::move(rows)))),
        conv1_(register_module("conv1", conv(out, out, 3))) {
    if (in != out) skip_ = register_module("skip", conv(in, out, 1));
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb) {
    auto h = conv0_(torch::silu(norm0_(x)));
    h = h + temb_proj_(torch::silu(temb)).unsqueeze(-1).unsqueeze(-1);
    h = conv1_(dropout_(torch::silu(norm1_(h))));
    const auto skip = skip_ ? skip_(x) : x;
    return (skip + h) * kSkipRescale;
  }

 private:
  torch::nn::GroupNorm norm0_;
  torch::nn::Conv2d conv0_;
  torch::nn::Linear temb_proj_;
  torch::nn::GroupNorm norm1_;
  ShardDropout dropout_;
  torch::nn::Conv2d conv1_;
  torch::nn::Conv2d skip_{nullptr};
};

/// score_sde's AttnBlockpp: single-head self-attention over the H·W
/// positions, q/k/v and the output projection as 1×1 convs (score_sde's NIN),
/// softmax(qᵀk/√C), residual, /√2. q/k/v use score_sde's init scale 0.1; the
/// output projection is not zeroed (see ResBlockImpl).
class AttentionBlockImpl : public torch::nn::Module {
 public:
  explicit AttentionBlockImpl(std::int64_t channels)
      : norm_(register_module("norm", group_norm(channels))),
        query_(register_module("query", conv(channels, channels, 1, 1, 0.1))),
        key_(register_module("key", conv(channels, channels, 1, 1, 0.1))),
        value_(register_module("value", conv(channels, channels, 1, 1, 0.1))),
        proj_(register_module("proj", conv(channels, channels, 1))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    const auto h = norm_(x);
    const auto q = query_(h).flatten(2);  // [N, C, HW]
    const auto k = key_(h).flatten(2);
    const auto v = value_(h).flatten(2);
    const double scale = 1.0 / std::sqrt(static_cast<double>(x.size(1)));
    const auto weights = torch::softmax(torch::bmm(q.transpose(1, 2), k) * scale, -1);
    const auto attended = torch::bmm(v, weights.transpose(1, 2)).view(x.sizes());
    return (x + proj_(attended)) * kSkipRescale;
  }

 private:
  torch::nn::GroupNorm norm_;
  torch::nn::Conv2d query_;
  torch::nn::Conv2d key_;
  torch::nn::Conv2d value_;
  torch::nn::Conv2d proj_;
};

/// A stride-2 3×3 conv (score_sde's ddpm Downsample with_conv). Padding 1
/// rather than score_sde's (0, 1, 0, 1): the same output size on even sides.
class DownsampleImpl : public torch::nn::Module {
 public:
  explicit DownsampleImpl(std::int64_t channels)
      : conv_(register_module("conv", conv(channels, channels, 3, 2))) {}
  torch::Tensor forward(const torch::Tensor& x) { return conv_(x); }

 private:
  torch::nn::Conv2d conv_;
};

/// Nearest ×2 then a 3×3 conv (score_sde's ddpm Upsample with_conv).
class UpsampleImpl : public torch::nn::Module {
 public:
  explicit UpsampleImpl(std::int64_t channels)
      : conv_(register_module("conv", conv(channels, channels, 3))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    const std::vector<std::int64_t> size{2 * x.size(2), 2 * x.size(3)};
    return conv_(F::interpolate(x, F::InterpolateFuncOptions().size(size).mode(torch::kNearest)));
  }

 private:
  torch::nn::Conv2d conv_;
};

TORCH_MODULE(ResBlock);
TORCH_MODULE(AttentionBlock);
TORCH_MODULE(Downsample);
TORCH_MODULE(Upsample);

// ---- options ----------------------------------------------------------------

/// Side of level ℓ's feature maps for an image_size-sided input, after the
/// padding forward applies.
std::vector<std::int64_t> level_sides(const UNetOptions& options) {
  const auto levels = static_cast<std::int64_t>(options.channel_mult.size());
  const std::int64_t multiple = std::int64_t{1} << (levels - 1);
  const std::int64_t padded = (options.image_size + multiple - 1) / multiple * multiple;
  std::vector<std::int64_t> sides;
  for (std::int64_t level = 0; level < levels; ++level) sides.push_back(padded >> level);
  return sides;
}

void check_positive(const char* what, std::int64_t value) {
  if (value < 1) fail(std::string(what) + " must be >= 1, got " + std::to_string(value));
}

/// Every option check but GroupNorm's, which group_norm() makes per layer.
void validate(const UNetOptions& options) {
  check_positive("in_channels", options.in_channels);
  check_positive("base_channels", options.base_channels);
  check_positive("num_res_blocks", options.num_res_blocks);
  check_positive("image_size", options.image_size);
  if (options.channel_mult.empty()) fail("channel_mult is empty");
  if (options.channel_mult.size() > kMaxLevels) {
    fail("channel_mult has " + std::to_string(options.channel_mult.size()) + " levels, at most " +
         std::to_string(kMaxLevels) + " allowed");
  }
  for (const auto mult : options.channel_mult) check_positive("every channel_mult entry", mult);
  if (!(options.dropout >= 0 && options.dropout < 1)) {
    fail("dropout must be in [0, 1), got " + std::to_string(options.dropout));
  }
  if (options.embedding == TimeEmbedding::fourier &&
      !(std::isfinite(options.fourier_scale) && options.fourier_scale > 0)) {
    fail("fourier_scale must be finite and > 0, got " + std::to_string(options.fourier_scale));
  }
  if (options.num_classes < 0) {
    fail("num_classes must be >= 0 (0: unconditional), got " + std::to_string(options.num_classes));
  }
  // A side no level has would silently build a network without attention.
  const auto sides = level_sides(options);
  for (const auto side : options.attention_resolutions) {
    if (std::find(sides.begin(), sides.end(), side) == sides.end()) {
      fail("attention resolution " + std::to_string(side) + " is no level's side; image_size " +
           std::to_string(options.image_size) + " with " +
           std::to_string(options.channel_mult.size()) + " levels gives sides " + join(sides));
    }
  }
}

std::vector<bool> attention_levels(const UNetOptions& options) {
  const auto sides = level_sides(options);
  const auto& wanted = options.attention_resolutions;
  std::vector<bool> attend;
  for (const auto side : sides) {
    attend.push_back(std::find(wanted.begin(), wanted.end(), side) != wanted.end());
  }
  return attend;
}

// ---- embeddings -------------------------------------------------------------

/// W ~ N(0, scale²) of GaussianFourierProjection, [n] float32, from the
/// fixed seed.
torch::Tensor fourier_draw(std::int64_t n, double scale) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(kFourierSeed);
  return torch::randn({n}, generator, torch::kFloat32) * scale;
}

/// [sin(2π t W), cos(2π t W)], [N, 2n].
torch::Tensor fourier_features(const torch::Tensor& time, const torch::Tensor& weights) {
  const auto angle = time.unsqueeze(1) * weights.unsqueeze(0) * (2 * std::numbers::pi);
  return torch::cat({torch::sin(angle), torch::cos(angle)}, 1);
}

/// DDPM's get_timestep_embedding of 999·t: [sin(s f_i), cos(s f_i)] with
/// f_i = 10000^(−i/(half−1)), i < half = dim/2; [N, 2·half]. (score_sde pads
/// an odd dim with a zero column; the Linear after it is simply narrower.)
torch::Tensor sinusoidal_features(const torch::Tensor& time, std::int64_t dim) {
  const std::int64_t half = dim / 2;
  const double step = std::log(10000.0) / static_cast<double>(half - 1);
  const auto frequencies = torch::exp(torch::arange(half, time.options()) * -step);
  const auto angle = (time * kSinusoidalTimeScale).unsqueeze(1) * frequencies.unsqueeze(0);
  return torch::cat({torch::sin(angle), torch::cos(angle)}, 1);
}

/// The labels to embed: `labels` checked, or all null when undefined.
torch::Tensor labels_or_null(const torch::Tensor& labels, std::int64_t batch,
                             std::int64_t num_classes, const torch::Device& device) {
  if (!labels.defined()) {
    return torch::full({batch}, num_classes, torch::TensorOptions(torch::kLong).device(device));
  }
  if (labels.dim() != 1 || labels.size(0) != batch || labels.scalar_type() != torch::kLong) {
    fail("labels must be int64 [N] with N = " + std::to_string(batch));
  }
  if (((labels < 0) | (labels > num_classes)).any().item<bool>()) {
    fail("labels must be in 0.." + std::to_string(num_classes) + " (" +
         std::to_string(num_classes) + " = null)");
  }
  return labels;
}

// ---- forward steps ------------------------------------------------------------

/// One encoder step: residual and downsampling steps push a skip feature,
/// attention replaces the last one (it follows a residual block).
torch::Tensor encoder_step(torch::nn::Module& step, const torch::Tensor& h,
                           const torch::Tensor& temb, std::vector<torch::Tensor>& skips) {
  if (auto* attention = step.as<AttentionBlockImpl>()) {
    skips.back() = attention->forward(h);
  } else if (auto* res = step.as<ResBlockImpl>()) {
    skips.push_back(res->forward(h, temb));
  } else {
    skips.push_back(step.as<DownsampleImpl>()->forward(h));
  }
  return skips.back();
}

/// One decoder step: residual blocks consume the last skip feature.
torch::Tensor decoder_step(torch::nn::Module& step, const torch::Tensor& h,
                           const torch::Tensor& temb, std::vector<torch::Tensor>& skips) {
  if (auto* res = step.as<ResBlockImpl>()) {
    auto out = res->forward(torch::cat({h, skips.back()}, 1), temb);
    skips.pop_back();
    return out;
  }
  if (auto* attention = step.as<AttentionBlockImpl>()) return attention->forward(h);
  return step.as<UpsampleImpl>()->forward(h);
}

}  // namespace

UNetImpl::UNetImpl(const UNetOptions& options) : options_(options) {
  validate(options_);
  const std::int64_t nf = options_.base_channels;
  const std::int64_t temb_channels = 4 * nf;

  // Time (and label) embedding, score_sde's ncsnpp: features → Dense → SiLU → Dense.
  std::int64_t feature_dim = 2 * (nf / 2);
  if (options_.embedding == TimeEmbedding::fourier) {
    fourier_weights_ = register_buffer("fourier_weights", fourier_draw(nf, options_.fourier_scale));
    feature_dim = 2 * nf;
  }
  time_dense0_ = register_module("time_dense0", dense(feature_dim, temb_channels));
  time_dense1_ = register_module("time_dense1", dense(temb_channels, temb_channels));
  if (options_.num_classes > 0) {
    label_embedding_ = register_module(
        "label_embedding", torch::nn::Embedding(options_.num_classes + 1, temb_channels));
  }

  const auto attend = attention_levels(options_);
  const auto levels = static_cast<std::int64_t>(options_.channel_mult.size());
  const double dropout = options_.dropout;
  conv_in_ = register_module("conv_in", conv(options_.in_channels, nf, 3));

  // Encoder; `skips` mirrors the channel counts of the features run() stacks.
  down_ = register_module("down", torch::nn::ModuleList());
  std::vector<std::int64_t> skips{nf};
  std::int64_t channels = nf;
  for (std::int64_t level = 0; level < levels; ++level) {
    const std::int64_t out = nf * options_.channel_mult[static_cast<std::size_t>(level)];
    for (std::int64_t block = 0; block < options_.num_res_blocks; ++block) {
      down_->push_back(ResBlock(channels, out, temb_channels, dropout, rows_));
      channels = out;
      if (attend[static_cast<std::size_t>(level)]) down_->push_back(AttentionBlock(channels));
      skips.push_back(channels);
    }
    if (level != levels - 1) {
      down_->push_back(Downsample(channels));
      skips.push_back(channels);
    }
  }

  middle_ = register_module("middle", torch::nn::ModuleList());
  middle_->push_back(ResBlock(channels, channels, temb_channels, dropout, rows_));
  middle_->push_back(AttentionBlock(channels));
  middle_->push_back(ResBlock(channels, channels, temb_channels, dropout, rows_));

  // Decoder: num_res_blocks + 1 blocks per level, one per skip feature.
  up_ = register_module("up", torch::nn::ModuleList());
  for (std::int64_t level = levels - 1; level >= 0; --level) {
    const std::int64_t out = nf * options_.channel_mult[static_cast<std::size_t>(level)];
    for (std::int64_t block = 0; block <= options_.num_res_blocks; ++block) {
      up_->push_back(ResBlock(channels + skips.back(), out, temb_channels, dropout, rows_));
      skips.pop_back();
      channels = out;
    }
    if (attend[static_cast<std::size_t>(level)]) up_->push_back(AttentionBlock(channels));
    if (level != 0) up_->push_back(Upsample(channels));
  }

  norm_out_ = register_module("norm_out", group_norm(channels));
  // init_scale = 0 (score_sde): the network starts as s_θ ≡ 0.
  conv_out_ = register_module("conv_out", conv(channels, options_.in_channels, 3, 1, 0.0));
}

void UNetImpl::set_batch_shard(const Shard& rows) { *rows_ = rows; }

std::int64_t UNetImpl::size_multiple() const {
  return std::int64_t{1} << (options_.channel_mult.size() - 1);
}

std::int64_t UNetImpl::parameter_count() const {
  std::int64_t count = 0;
  for (const auto& parameter : parameters()) count += parameter.numel();
  return count;
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x, const torch::Tensor& time,
                                const torch::Tensor& labels) {
  if (x.dim() != 4 || x.size(1) != options_.in_channels || !x.is_floating_point()) {
    fail("x must be floating point [N, " + std::to_string(options_.in_channels) + ", H, W], got " +
         std::to_string(x.dim()) + " dimensions");
  }
  if (time.dim() != 1 || time.size(0) != x.size(0)) {
    fail("time must be [N] with N = " + std::to_string(x.size(0)));
  }
  const auto temb = embed(time.to(x.dtype()), labels);

  // Pad (replicate) up to a multiple of 2^(levels − 1) so every downsampling
  // halves exactly, crop back after.
  const std::int64_t height = x.size(2);
  const std::int64_t width = x.size(3);
  const std::int64_t multiple = size_multiple();
  const std::int64_t pad_h = (multiple - height % multiple) % multiple;
  const std::int64_t pad_w = (multiple - width % multiple) % multiple;
  if (pad_h == 0 && pad_w == 0) return run(x, temb);
  const auto padded = F::pad(x, F::PadFuncOptions({0, pad_w, 0, pad_h}).mode(torch::kReplicate));
  return run(padded, temb).narrow(2, 0, height).narrow(3, 0, width);
}

torch::Tensor UNetImpl::embed(const torch::Tensor& time, const torch::Tensor& labels) {
  const auto features = options_.embedding == TimeEmbedding::fourier
                            ? fourier_features(time, fourier_weights_)
                            : sinusoidal_features(time, options_.base_channels);
  auto temb = time_dense1_(torch::silu(time_dense0_(features)));
  if (label_embedding_) {
    temb = temb + label_embedding_(
                      labels_or_null(labels, time.size(0), options_.num_classes, time.device()));
  }
  return temb;
}

torch::Tensor UNetImpl::run(const torch::Tensor& x, const torch::Tensor& temb) {
  std::vector<torch::Tensor> skips{conv_in_(x)};
  auto h = skips.back();
  for (const auto& step : *down_) h = encoder_step(*step, h, temb, skips);
  for (const auto& step : *middle_) {
    auto* res = step->as<ResBlockImpl>();
    h = res ? res->forward(h, temb) : step->as<AttentionBlockImpl>()->forward(h);
  }
  for (const auto& step : *up_) h = decoder_step(*step, h, temb, skips);
  return conv_out_(torch::silu(norm_out_(h)));
}

}  // namespace spdec::runtime
