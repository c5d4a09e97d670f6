// classifier.pt: the evaluation classifier with its options and measured test
// accuracy. Written by `spdec run classifier`, read by the feature extractor
// that `eval.classifier` names; one owner for the format on both sides.
#pragma once

#include <filesystem>

#include "runtime/nn/classifier.hpp"

namespace spdec::runtime {

struct LoadedClassifier {
  Classifier net{nullptr};
  double test_accuracy = 0.0;
};

/// Writes the network (moved to the CPU) atomically.
void save_classifier(const std::filesystem::path& file, Classifier& net, double test_accuracy);

/// Reads classifier.pt; throws std::runtime_error naming the file when it is
/// missing or not a spdec classifier.
[[nodiscard]] LoadedClassifier load_classifier(const std::filesystem::path& file);

}  // namespace spdec::runtime
