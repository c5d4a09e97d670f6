#include "runtime/eval/feature_extractor.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <vector>

#include "runtime/nn/classifier_file.hpp"

namespace spdec::runtime {
namespace {

double background_of(ValueRange range) { return range == ValueRange::minus_one_one ? -1.0 : 0.0; }

/// Images centre-padded with the range's black (or centre-cropped) to the
/// classifier's side: a run padded 28 → 32 is cropped back to 28.
at::Tensor fit_to(const at::Tensor& images, std::int64_t side, double background) {
  const std::int64_t dh = side - images.size(2);
  const std::int64_t dw = side - images.size(3);
  if (dh == 0 && dw == 0) return images;
  return at::constant_pad_nd(images, {dw / 2, dw - dw / 2, dh / 2, dh - dh / 2}, background);
}

class ClassifierFeatures final : public FeatureExtractor {
 public:
  ClassifierFeatures(const std::string& file, ValueRange range, const at::Device& device)
      : file_(file),
        loaded_(load_classifier(file)),
        background_(background_of(range)),
        device_(device) {
    loaded_.net->to(device);
    loaded_.net->eval();
  }

  [[nodiscard]] std::string description() const override {
    return fmt::format("classifier {} (test accuracy {:.4f}), {}-dim penultimate features", file_,
                       loaded_.test_accuracy, loaded_.net->options().features);
  }

  [[nodiscard]] ExtractedFeatures extract(const at::Tensor& all_images,
                                          std::int64_t batch) override {
    const at::NoGradGuard no_grad;
    const at::Tensor images = fit_to(all_images, loaded_.net->options().image_size, background_);
    std::vector<at::Tensor> features;
    std::vector<at::Tensor> probabilities;
    for (std::int64_t first = 0; first < images.size(0); first += batch) {
      const std::int64_t n = std::min(batch, images.size(0) - first);
      const at::Tensor x = images.narrow(0, first, n).to(device_, at::kFloat);
      features.push_back(loaded_.net->features(x).to(at::kCPU, at::kDouble));
      probabilities.push_back(at::softmax(loaded_.net->forward(x), 1).to(at::kCPU, at::kDouble));
    }
    return {at::cat(features), at::cat(probabilities)};
  }

 private:
  std::string file_;
  LoadedClassifier loaded_;
  double background_;
  at::Device device_;
};

}  // namespace

std::unique_ptr<FeatureExtractor> classifier_features(const std::string& file, ValueRange range,
                                                      const at::Device& device) {
  return std::make_unique<ClassifierFeatures>(file, range, device);
}

std::unique_ptr<FeatureExtractor> make_feature_extractor(const config::EvalSection& eval,
                                                         ValueRange range,
                                                         const at::Device& device) {
  if (!eval.feature_extractor.empty()) {
    return torchscript_features(eval.feature_extractor, eval.feature_image_size, range, device);
  }
  if (!eval.classifier.empty()) return classifier_features(eval.classifier, range, device);
  throw std::runtime_error(
      "no feature extractor: set eval.classifier to the classifier.pt that `spdec run "
      "classifier RUN.toml` writes, or eval.feature_extractor to a TorchScript feature network "
      "(specs/RUN_CONFIG.md, [eval])");
}

}  // namespace spdec::runtime
