// Feature extractors for `spdec run eval` (issue 6): what turns images into
// the vectors that FID, KID and precision/recall compare, and into the class
// probabilities that IS needs. Two kinds, nothing downloaded:
//   * spdec's own classifier (`spdec run classifier`, eval.classifier): its
//     penultimate layer and its softmax; images are fitted to its side by
//     centred padding or cropping;
//   * a TorchScript module a user exported (eval.feature_extractor), e.g. an
//     Inception-v3. The contract, the usual one of exported FID networks
//     (pytorch-fid, torchvision with transform_input): input float32
//     [N, 3, S, S] in [0, 1], S = eval.feature_image_size (grey images
//     repeated to three channels, resized bilinearly with half-pixel
//     centres); output either the features (any [N, ...], flattened to
//     [N, D]) or a tuple (features, logits), the logits giving IS.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/config/run_config.hpp"
#include "runtime/data/dataset.hpp"

namespace spdec::runtime {

struct ExtractedFeatures {
  at::Tensor features;       ///< [N, D], double, CPU
  at::Tensor probabilities;  ///< [N, K], double, CPU; undefined when the extractor has no classes
};

class FeatureExtractor {
 public:
  FeatureExtractor() = default;
  FeatureExtractor(const FeatureExtractor&) = delete;
  FeatureExtractor& operator=(const FeatureExtractor&) = delete;
  FeatureExtractor(FeatureExtractor&&) = delete;
  FeatureExtractor& operator=(FeatureExtractor&&) = delete;
  virtual ~FeatureExtractor() = default;

  /// What metrics.json records as "feature_extractor".
  [[nodiscard]] virtual std::string description() const = 0;

  /// Features of images [N, C, H, W] whose values lie in the data range,
  /// computed `batch` images at a time without gradients.
  [[nodiscard]] virtual ExtractedFeatures extract(const at::Tensor& images, std::int64_t batch) = 0;
};

/// The classifier written by `spdec run classifier`.
[[nodiscard]] std::unique_ptr<FeatureExtractor> classifier_features(const std::string& file,
                                                                    ValueRange range,
                                                                    const at::Device& device);

/// A TorchScript module (the contract above); image_size 0 keeps the size.
[[nodiscard]] std::unique_ptr<FeatureExtractor> torchscript_features(const std::string& file,
                                                                     std::int64_t image_size,
                                                                     ValueRange range,
                                                                     const at::Device& device);

/// eval.feature_extractor when set, else eval.classifier; neither set throws
/// with what to do.
[[nodiscard]] std::unique_ptr<FeatureExtractor> make_feature_extractor(
    const config::EvalSection& eval, ValueRange range, const at::Device& device);

}  // namespace spdec::runtime
