// `spdec run classifier`: train the evaluation classifier
// (runtime/nn/classifier.hpp) on the run's labelled data (data.split = train;
// the [train] keys steps, batch_size, lr and seed), measure its accuracy on the
// test split, and write <run.dir>/classifier.pt — which `eval.classifier`
// then names (runtime/nn/classifier_file.hpp reads and writes it).
#pragma once

#include <filesystem>
#include <ostream>

#include "runtime/config/run_config.hpp"
#include "runtime/nn/classifier_file.hpp"

namespace spdec::runtime {

struct ClassifierRunResult {
  std::filesystem::path file;
  double test_accuracy = 0.0;
};

ClassifierRunResult run_classifier(const config::RunConfig& config, std::ostream& log);

}  // namespace spdec::runtime
