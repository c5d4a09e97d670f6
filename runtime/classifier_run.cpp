#include "runtime/classifier_run.hpp"

#include <fmt/format.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>

#include <sstream>
#include <stdexcept>
#include <vector>

#include "runtime/atomic_write.hpp"
#include "runtime/batch_loader.hpp"
#include "runtime/progress.hpp"
#include "runtime/run_setup.hpp"

namespace spdec::runtime {
namespace {

constexpr const char* kFormat = "spdec-classifier-1";
constexpr std::int64_t kEvalBatch = 512;

Dataset labelled(const config::RunConfig& config, const std::string& split) {
  config::DataSection data = config.data;
  data.split = split;
  Dataset set = load_dataset(dataset_spec(data));
  if (set.size() == 0 || (set.labels < 0).any().item<bool>()) {
    throw std::runtime_error("spdec run classifier needs labelled data; data.dataset = \"" +
                             config.data.dataset + "\" (" + split + ") has unlabelled images");
  }
  return set;
}

double accuracy(Classifier& net, const Dataset& data, const at::Device& device) {
  const at::NoGradGuard no_grad;
  net->eval();
  const at::Tensor images = data.to_float();
  std::int64_t correct = 0;
  for (std::int64_t first = 0; first < data.size(); first += kEvalBatch) {
    const std::int64_t n = std::min(kEvalBatch, data.size() - first);
    const at::Tensor predicted = net->forward(images.narrow(0, first, n).to(device)).argmax(1);
    correct +=
        predicted.to(at::kCPU).eq(data.labels.narrow(0, first, n)).sum().item<std::int64_t>();
  }
  net->train();
  return static_cast<double>(correct) / static_cast<double>(data.size());
}

void save(const std::filesystem::path& file, Classifier& net, double test_accuracy) {
  torch::serialize::OutputArchive archive;
  const ClassifierOptions& o = net->options();
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("options", c10::IValue(std::vector<std::int64_t>{o.in_channels, o.image_size,
                                                                 o.classes, o.features}));
  archive.write("test_accuracy", c10::IValue(test_accuracy));
  net->to(at::kCPU);
  net->save(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomically(file, bytes.str());
}

}  // namespace

ClassifierRunResult run_classifier(const config::RunConfig& config, std::ostream& log) {
  apply_thread_count(config);
  const at::Device device = choose_device(config.run.device);
  const Dataset train = labelled(config, "train");
  const Dataset test = labelled(config, "test");
  torch::manual_seed(config.train.seed);
  ClassifierOptions options;
  options.in_channels = train.images.size(1);
  options.image_size = train.images.size(2);
  options.classes = std::max<std::int64_t>(train.labels.max().item<std::int64_t>() + 1, 2);
  Classifier net(options);
  net->to(device);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(config.train.lr));
  LoaderOptions loader_options;
  loader_options.batch_size = config.train.batch_size;
  loader_options.seed = config.train.seed;
  loader_options.drop_last = config.train.batch_size <= train.size();
  BatchLoader loader(train, loader_options);
  log << "classifier: " << train.size() << " training images " << options.in_channels << "x"
      << options.image_size << "x" << options.image_size << ", " << options.classes << " classes, "
      << config.train.steps << " steps of " << config.train.batch_size << std::endl;
  Progress progress("classifier", 0, config.train.steps, log, Progress::stderr_is_terminal(),
                    config.train.log_every);
  for (std::int64_t step = 0; step < config.train.steps; ++step) {
    const Batch batch = loader.next();
    const at::Tensor loss = torch::nn::functional::cross_entropy(
        net->forward(batch.images.to(device)), batch.labels.to(device));
    adam.zero_grad();
    loss.backward();
    adam.step();
    progress.update(step + 1, loss.item<double>());
  }
  progress.finish();
  ClassifierRunResult result;
  result.test_accuracy = accuracy(net, test, device);
  std::filesystem::create_directories(config.run.dir);
  result.file = config::run_path(config, "classifier.pt");
  save(result.file, net, result.test_accuracy);
  log << fmt::format("classifier: test accuracy {:.2f} % on {} images; wrote {}",
                     100.0 * result.test_accuracy, test.size(), result.file.string())
      << std::endl;
  return result;
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
