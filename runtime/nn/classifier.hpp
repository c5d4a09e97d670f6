// A small CNN classifier for evaluation (issue 6): trained by `spdec run
// classifier` on a labelled data set, its penultimate layer gives the
// features for FID/KID and its softmax the class probabilities for IS —
// the role Inception-v3 plays for ImageNet-like data, without downloading
// weights. Two 3×3 conv pairs (32 and 64 channels) with max-pooling, a
// 128-unit feature layer, dropout, a linear read-out: ≥ 90 % test accuracy on
// Fashion-MNIST after a few epochs on a CPU.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include <cstdint>

namespace spdec::runtime {

struct ClassifierOptions {
  std::int64_t in_channels = 1;
  std::int64_t image_size = 28;  ///< square inputs of this side
  std::int64_t classes = 10;
  std::int64_t features = 128;
};

class ClassifierImpl : public torch::nn::Module {
 public:
  explicit ClassifierImpl(const ClassifierOptions& options);
  /// Logits [N, classes] for images [N, C, H, W] in the data range.
  torch::Tensor forward(const torch::Tensor& x);
  /// The penultimate activations [N, features] (after ReLU, before dropout).
  torch::Tensor features(const torch::Tensor& x);
  [[nodiscard]] const ClassifierOptions& options() const { return options_; }

 private:
  ClassifierOptions options_;
  torch::nn::Sequential trunk_{nullptr};
  torch::nn::Linear hidden_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear readout_{nullptr};
};
TORCH_MODULE(Classifier);

}  // namespace spdec::runtime
