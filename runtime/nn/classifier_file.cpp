#include "runtime/nn/classifier_file.hpp"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/nn/module_file.hpp"

namespace spdec::runtime {
namespace {

constexpr const char* kFormat = "spdec-classifier-1";

}  // namespace

void save_classifier(const std::filesystem::path& file, Classifier& net, double test_accuracy) {
  torch::serialize::OutputArchive archive;
  const ClassifierOptions& o = net->options();
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("options", c10::IValue(std::vector<std::int64_t>{o.in_channels, o.image_size,
                                                                 o.classes, o.features}));
  archive.write("test_accuracy", c10::IValue(test_accuracy));
  save_module_file(file, archive, *net);
}

LoadedClassifier load_classifier(const std::filesystem::path& file) {
  const auto fail = [&file](const std::string& what) {
    return std::runtime_error("classifier " + file.string() + ": " + what);
  };
  if (!std::filesystem::exists(file)) {
    throw fail("no such file (train one with `spdec run classifier RUN.toml`)");
  }
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file.string());
  } catch (const std::exception& e) {
    throw fail(std::string("not readable (") + e.what() + ")");
  }
  c10::IValue format;
  c10::IValue shape;
  c10::IValue test_accuracy;
  if (!archive.try_read("format", format) || !format.isString() ||
      format.toStringRef() != kFormat || !archive.try_read("options", shape) ||
      !shape.isIntList() || shape.toIntVector().size() != 4 ||
      !archive.try_read("test_accuracy", test_accuracy) || !test_accuracy.isDouble()) {
    throw fail("not a spdec classifier (" + std::string(kFormat) + ")");
  }
  const std::vector<std::int64_t> o = shape.toIntVector();
  LoadedClassifier loaded;
  loaded.net = Classifier(ClassifierOptions{o[0], o[1], o[2], o[3]});
  loaded.net->load(archive);
  loaded.net->eval();
  loaded.test_accuracy = test_accuracy.toDouble();
  return loaded;
}

}  // namespace spdec::runtime
