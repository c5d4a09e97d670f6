// A user's TorchScript feature network as a FeatureExtractor (the contract is
// in runtime/eval/feature_extractor.hpp). Kept apart from the classifier because
// it is the one file that needs LibTorch's JIT headers.
#include <fmt/format.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/eval/feature_extractor.hpp"

namespace spdec::runtime {
namespace {

/// The first line of a LibTorch error: the rest is C++ and Python stacks.
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string shape_of(const at::Tensor& t) {
  if (!t.defined()) return "none";
  std::string text = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) {
    text += (i > 0 ? ", " : "") + std::to_string(t.size(i));
  }
  return text + "]";
}

std::string error_text(const std::exception& error) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) {
    return first_line(c10_error->what_without_backtrace());
  }
  return first_line(error.what());
}

class TorchScriptFeatures final : public FeatureExtractor {
 public:
  TorchScriptFeatures(std::string file, std::int64_t image_size, ValueRange range,
                      const at::Device& device)
      : file_(std::move(file)), image_size_(image_size), device_(device) {
    if (range == ValueRange::minus_one_one) {
      low_ = -1.0;
    }
    try {
      module_ = torch::jit::load(file_, device_);
    } catch (const std::exception& error) {
      throw std::runtime_error(
          fmt::format("eval.feature_extractor: {} is not a TorchScript module spdec can load: {}",
                      file_, error_text(error)));
    }
    module_.eval();
  }

  [[nodiscard]] std::string description() const override {
    return fmt::format("TorchScript {} on [N, 3, {}, {}] images in [0, 1]", file_,
                       image_size_ > 0 ? std::to_string(image_size_) : "H",
                       image_size_ > 0 ? std::to_string(image_size_) : "W");
  }

  [[nodiscard]] ExtractedFeatures extract(const at::Tensor& images, std::int64_t batch) override {
    const at::NoGradGuard no_grad;
    std::vector<at::Tensor> features;
    std::vector<at::Tensor> logits;
    for (std::int64_t first = 0; first < images.size(0); first += batch) {
      const std::int64_t n = std::min(batch, images.size(0) - first);
      const at::Tensor x = preprocess(images.narrow(0, first, n));
      const auto [f, l] = run(x);
      features.push_back(f);
      if (l.defined()) logits.push_back(l);
    }
    ExtractedFeatures out;
    out.features = at::cat(features);
    if (!logits.empty()) out.probabilities = at::softmax(at::cat(logits), 1);
    return out;
  }

 private:
  /// Data range → [0, 1], grey → RGB, bilinear resize to the network's side.
  [[nodiscard]] at::Tensor preprocess(const at::Tensor& images) const {
    at::Tensor x = images.to(device_, at::kFloat);
    x = ((x - low_) / (1.0 - low_)).clamp(0.0, 1.0);
    if (x.size(1) == 1) {
      x = x.expand({x.size(0), 3, x.size(2), x.size(3)});
    } else if (x.size(1) != 3) {
      throw std::runtime_error(fmt::format(
          "eval.feature_extractor takes grey or RGB images; these have {} channels", x.size(1)));
    }
    if (image_size_ > 0 && (x.size(2) != image_size_ || x.size(3) != image_size_)) {
      const std::vector<std::int64_t> size{image_size_, image_size_};
      x = at::upsample_bilinear2d(x, at::IntArrayRef(size), /*align_corners=*/false);
    }
    return x.contiguous();
  }

  /// (features [n, D], logits [n, K] or undefined), double on the CPU.
  [[nodiscard]] std::pair<at::Tensor, at::Tensor> run(const at::Tensor& x) {
    c10::IValue output;
    try {
      output = module_.forward({x});
    } catch (const std::exception& error) {
      throw std::runtime_error(
          fmt::format("eval.feature_extractor {} failed on a batch [{}, 3, {}, "
                      "{}] in [0, 1]: {}",
                      file_, x.size(0), x.size(2), x.size(3), error_text(error)));
    }
    at::Tensor features;
    at::Tensor logits;
    if (output.isTensor()) {
      features = output.toTensor();
    } else if (output.isTuple() && output.toTupleRef().elements().size() == 2 &&
               output.toTupleRef().elements()[0].isTensor() &&
               output.toTupleRef().elements()[1].isTensor()) {
      features = output.toTupleRef().elements()[0].toTensor();
      logits = output.toTupleRef().elements()[1].toTensor();
    } else {
      throw std::runtime_error(fmt::format(
          "eval.feature_extractor {} returned {}; expected a tensor of features or a tuple "
          "(features, logits)",
          file_, output.tagKind()));
    }
    const std::int64_t n = x.size(0);
    if (features.dim() < 1 || features.size(0) != n ||
        (logits.defined() && (logits.dim() != 2 || logits.size(0) != n))) {
      throw std::runtime_error(fmt::format(
          "eval.feature_extractor {} returned features {} and logits {} for {} images; expected "
          "[{}, ...] and [{}, K]",
          file_, shape_of(features), shape_of(logits), n, n, n));
    }
    features = features.reshape({n, -1}).to(at::kCPU, at::kDouble);
    if (logits.defined()) logits = logits.to(at::kCPU, at::kDouble);
    return {features, logits};
  }

  std::string file_;
  std::int64_t image_size_;
  at::Device device_;
  double low_ = 0.0;
  torch::jit::Module module_;
};

}  // namespace

std::unique_ptr<FeatureExtractor> torchscript_features(const std::string& file,
                                                       std::int64_t image_size, ValueRange range,
                                                       const at::Device& device) {
  return std::make_unique<TorchScriptFeatures>(file, image_size, range, device);
}

}  // namespace spdec::runtime
