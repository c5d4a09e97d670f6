#include "runtime/nn/classifier.hpp"

#include <torch/nn/functional/activation.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/pooling.h>

#include <stdexcept>

namespace spdec::runtime {
namespace {

torch::nn::Conv2d conv3x3(std::int64_t in, std::int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1));
}

}  // namespace

ClassifierImpl::ClassifierImpl(const ClassifierOptions& options) : options_(options) {
  if (options.in_channels < 1 || options.image_size < 4 || options.classes < 2 ||
      options.features < 1) {
    throw std::invalid_argument("classifier: channels >= 1, image_size >= 4, classes >= 2");
  }
  trunk_ = register_module(
      "trunk",
      torch::nn::Sequential(conv3x3(options.in_channels, 32), torch::nn::ReLU(), conv3x3(32, 32),
                            torch::nn::ReLU(), torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)),
                            conv3x3(32, 64), torch::nn::ReLU(), conv3x3(64, 64), torch::nn::ReLU(),
                            torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2))));
  const std::int64_t side = options.image_size / 4;
  hidden_ = register_module("hidden", torch::nn::Linear(64 * side * side, options.features));
  dropout_ = register_module("dropout", torch::nn::Dropout(0.3));
  readout_ = register_module("readout", torch::nn::Linear(options.features, options.classes));
}

torch::Tensor ClassifierImpl::features(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != options_.in_channels || x.size(2) != options_.image_size ||
      x.size(3) != options_.image_size) {
    throw std::invalid_argument(
        "classifier: expected images [N, " + std::to_string(options_.in_channels) + ", " +
        std::to_string(options_.image_size) + ", " + std::to_string(options_.image_size) + "]");
  }
  return torch::relu(hidden_->forward(trunk_->forward(x).flatten(1)));
}

torch::Tensor ClassifierImpl::forward(const torch::Tensor& x) {
  return readout_->forward(dropout_->forward(features(x)));
}

}  // namespace spdec::runtime
