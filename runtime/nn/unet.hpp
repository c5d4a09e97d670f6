// A U-Net score network of score_sde's NCSN++ family with DDPM++'s choices
// (Song et al. 2021, "Score-Based Generative Modeling through Stochastic
// Differential Equations", models/ncsnpp.py with resblock_type "ddpm",
// progressive "none", skip_rescale, no FIR): s_θ(x, t[, y]) for images
// x [N, C, H, W], the output the same shape as x.
//
//   time        Gaussian Fourier features of t (W ~ N(0, scale²), fixed, a
//               buffer) or DDPM's sinusoidal embedding of 999·t, then
//               Linear → SiLU → Linear to 4·base_channels
//   labels      optional: an embedding of num_classes + 1 rows (the last the
//               null label of classifier-free guidance) added to the time's
//   encoder     conv 3×3, per level num_res_blocks residual blocks (attention
//               after each where the level's side is listed), a stride-2 conv
//               between levels
//   middle      residual block, attention, residual block
//   decoder     per level num_res_blocks + 1 residual blocks on the
//               concatenation with the encoder's features (attention after
//               them where listed), nearest ×2 + conv 3×3 between levels
//   output      GroupNorm → SiLU → conv 3×3, zero-initialised: s_θ ≡ 0 at init
//
// Any H × W: the input is padded (replicate) up to a multiple of 2^(levels−1)
// and the output cropped back. Every normalisation is per sample (GroupNorm),
// so sample i's output does not depend on the rest of its batch.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/shard.hpp"
#include "runtime/config/choices.hpp"

namespace spdec::runtime {

/// model.embedding: fourier | sinusoidal (runtime/config/choices.hpp).
using config::TimeEmbedding;

struct UNetOptions {
  std::int64_t in_channels = 1;  // image channels; the output has the same
  std::int64_t base_channels = 64;
  std::vector<std::int64_t> channel_mult{1, 2, 2};
  std::int64_t num_res_blocks = 2;
  // Feature-map sides (of the padded input) that get self-attention. Which
  // levels these are is fixed at construction from image_size: level ℓ has
  // side padded(image_size) / 2^ℓ. A side no level has is an error.
  std::vector<std::int64_t> attention_resolutions{16};
  double dropout = 0.1;
  TimeEmbedding embedding = TimeEmbedding::fourier;
  double fourier_scale = 16.0;
  // 0: unconditional; else class conditional with labels 0..num_classes-1
  // and label num_classes = the null label (classifier-free guidance).
  std::int64_t num_classes = 0;
  // Side of the images the network is built for (for H ≠ W, the side whose
  // levels attention_resolutions names). Only places the attention blocks:
  // forward accepts any size, with attention at the same levels.
  std::int64_t image_size = 32;
};

class UNetImpl : public torch::nn::Module {
 public:
  /// Throws std::invalid_argument naming the problem: an empty channel_mult,
  /// a non-positive size, channel counts GroupNorm cannot split into
  /// min(32, C/4) groups, an attention side that no level has, a dropout
  /// outside [0, 1), a non-positive Fourier scale, a negative num_classes.
  explicit UNetImpl(const UNetOptions& options);

  /// x [N, C, H, W] float32; time [N] float32 (the caller passes t / T in
  /// [0, 1]); labels int64 [N] in 0..num_classes (num_classes = null) or an
  /// undefined tensor (all null; unconditional models ignore labels).
  /// Returns [N, C, H, W]. Wrong shapes or labels: std::invalid_argument.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& time,
                        const torch::Tensor& labels = {});

  [[nodiscard]] const UNetOptions& options() const { return options_; }
  /// Number of trainable scalars (buffers excluded).
  [[nodiscard]] std::int64_t parameter_count() const;
  /// The multiple of which H and W are padded up to: 2^(levels − 1).
  [[nodiscard]] std::int64_t size_multiple() const;
  /// Which rows of a global batch the next training forwards see (a rank's
  /// shard, runtime/nn/shard_dropout.hpp): dropout then masks them as the
  /// whole batch's pass would. Default: the input is the whole batch.
  void set_batch_shard(const Shard& rows);

 private:
  [[nodiscard]] torch::Tensor embed(const torch::Tensor& time, const torch::Tensor& labels);
  [[nodiscard]] torch::Tensor run(const torch::Tensor& x, const torch::Tensor& temb);

  UNetOptions options_;
  std::shared_ptr<Shard> rows_ = std::make_shared<Shard>();  ///< set_batch_shard's, for dropout
  torch::Tensor fourier_weights_;                            // [base_channels], fourier only
  torch::nn::Linear time_dense0_{nullptr};
  torch::nn::Linear time_dense1_{nullptr};
  torch::nn::Embedding label_embedding_{nullptr};  // conditional only
  torch::nn::Conv2d conv_in_{nullptr};
  // The encoder and decoder as flat step lists (residual blocks, attention
  // blocks, down/upsamplers in order), dispatched on type in run().
  torch::nn::ModuleList down_{nullptr};
  torch::nn::ModuleList middle_{nullptr};
  torch::nn::ModuleList up_{nullptr};
  torch::nn::GroupNorm norm_out_{nullptr};
  torch::nn::Conv2d conv_out_{nullptr};
};

TORCH_MODULE(UNet);

}  // namespace spdec::runtime
