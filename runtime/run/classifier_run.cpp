#include "runtime/run/classifier_run.hpp"

#include <fmt/format.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <sstream>
#include <stdexcept>
#include <vector>

#include "runtime/base/progress.hpp"
#include "runtime/data/batch_loader.hpp"
#include "runtime/run/run_setup.hpp"

namespace spdec::runtime {
namespace {

constexpr std::int64_t kEvalBatch = 512;

Dataset labelled(const config::RunConfig& config, config::Split split) {
  config::DataSection data = config.data;
  data.split = split;
  Dataset set = load_dataset(dataset_spec(data));
  if (set.size() == 0 || (set.labels < 0).any().item<bool>()) {
    throw std::runtime_error("spdec run classifier needs labelled data; data.dataset = \"" +
                             std::string(name(config.data.dataset)) + "\" (" + name(split) +
                             ") has unlabelled images");
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

}  // namespace

ClassifierRunResult run_classifier(const config::RunConfig& config, std::ostream& log) {
  apply_thread_count(config);
  const at::Device device = choose_device(config.run.device);
  const Dataset train = labelled(config, config::Split::train);
  const Dataset test = labelled(config, config::Split::test);
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
  save_classifier(result.file, net, result.test_accuracy);
  log << fmt::format("classifier: test accuracy {:.2f} % on {} images; wrote {}",
                     100.0 * result.test_accuracy, test.size(), result.file.string())
      << std::endl;
  return result;
}

}  // namespace spdec::runtime
