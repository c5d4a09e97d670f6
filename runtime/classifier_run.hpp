// `spdec run classifier`: train the evaluation classifier (runtime/
// classifier.hpp) on the run's labelled data (data.split = train; the
// [train] keys steps, batch_size, lr and seed), measure its accuracy on the
// test split, and write <run.dir>/classifier.pt — which `eval.classifier`
// then names. load_classifier reads it back.
#pragma once

#include <filesystem>
#include <ostream>

#include "runtime/classifier.hpp"
#include "runtime/config/run_config.hpp"

namespace spdec::runtime {

struct ClassifierRunResult {
  std::filesystem::path file;
  double test_accuracy = 0.0;
};

ClassifierRunResult run_classifier(const config::RunConfig& config, std::ostream& log);

struct LoadedClassifier {
  Classifier net{nullptr};
  double test_accuracy = 0.0;
};

/// Reads classifier.pt; throws std::runtime_error naming the file when it is
/// missing or not a spdec classifier.
[[nodiscard]] LoadedClassifier load_classifier(const std::filesystem::path& file);

}  // namespace spdec::runtime
