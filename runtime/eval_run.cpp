#include "runtime/eval_run.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "runtime/atomic_write.hpp"
#include "runtime/classifier_run.hpp"
#include "runtime/dataset.hpp"
#include "runtime/npy.hpp"
#include "runtime/run_setup.hpp"
#include "runtime/sample_run.hpp"

namespace spdec::runtime {
namespace {

struct Features {
  at::Tensor features;       ///< [N, D] double
  at::Tensor probabilities;  ///< [N, K] double
};

/// Images centre-cropped (or padded with the range's black) to the
/// classifier's side: a run padded 28 → 32 is cropped back to 28.
at::Tensor fit_to(const at::Tensor& images, std::int64_t side, double background) {
  const std::int64_t dh = side - images.size(2);
  const std::int64_t dw = side - images.size(3);
  if (dh == 0 && dw == 0) return images;
  return at::constant_pad_nd(images, {dw / 2, dw - dw / 2, dh / 2, dh - dh / 2}, background);
}

Features features_of(Classifier& net, const at::Tensor& all_images, std::int64_t batch,
                     const at::Device& device, double background) {
  const at::NoGradGuard no_grad;
  const at::Tensor images = fit_to(all_images, net->options().image_size, background);
  std::vector<at::Tensor> features;
  std::vector<at::Tensor> probabilities;
  for (std::int64_t first = 0; first < images.size(0); first += batch) {
    const std::int64_t n = std::min(batch, images.size(0) - first);
    const at::Tensor x = images.narrow(0, first, n).to(device, at::kFloat);
    const at::Tensor f = net->features(x);
    features.push_back(f.to(at::kCPU, at::kDouble));
    probabilities.push_back(at::softmax(net->forward(x), 1).to(at::kCPU, at::kDouble));
  }
  return {at::cat(features), at::cat(probabilities)};
}

at::Tensor reference_images(const config::RunConfig& config, const std::string& split,
                            std::int64_t n) {
  config::DataSection data = config.data;
  data.split = split;
  data.flip = false;
  const Dataset set = load_dataset(dataset_spec(data, n));
  if (set.size() < n) {
    throw std::runtime_error(
        fmt::format("eval.n = {} but the {} split has {} images", n, split, set.size()));
  }
  return set.to_float();
}

/// eval.n generated images: samples.npy if it has enough, else sampled now.
at::Tensor generated_images(const config::RunConfig& config, const lang::Process& process,
                            std::ostream& log) {
  const std::filesystem::path file = config::run_path(config, "samples.npy");
  if (std::filesystem::exists(file)) {
    const at::Tensor samples = read_npy(file);
    if (samples.dim() == 4 && samples.size(0) >= config.eval.n) {
      log << "eval: " << config.eval.n << " samples from " << file.string() << std::endl;
      return samples.narrow(0, 0, config.eval.n).to(at::kFloat);
    }
  }
  config::RunConfig sampling = config;
  sampling.sample.n = config.eval.n;
  sampling.sample.seed = config.eval.seed;
  log << "eval: sampling " << config.eval.n << " images" << std::endl;
  return read_npy(run_sample(sampling, process, log).npy).to(at::kFloat);
}

nlohmann::json as_json(const MeanStd& v) { return {{"mean", v.mean}, {"std", v.std}}; }

}  // namespace

EvalRunResult run_eval(const config::RunConfig& config, const lang::Process& process,
                       std::ostream& log) {
  apply_thread_count(config);
  const at::Device device = choose_device(config.run.device);
  if (config.eval.classifier.empty()) {
    throw std::runtime_error(
        "eval.classifier is empty: train the evaluation classifier with `spdec run classifier "
        "RUN.toml` and set eval.classifier to its classifier.pt (TorchScript feature extractors, "
        "eval.feature_extractor, are not read yet)");
  }
  LoadedClassifier classifier = load_classifier(config.eval.classifier);
  classifier.net->to(device);
  const std::int64_t n = config.eval.n;
  const at::Tensor samples = generated_images(config, process, log);
  const at::Tensor reference = reference_images(config, config.eval.split, n);
  const at::Tensor other_split =
      reference_images(config, config.eval.split == "test" ? "train" : "test", n);
  const std::int64_t batch = config.eval.batch_size;
  const double black = parse_value_range(config.data.range) == ValueRange::minus_one_one ? -1 : 0;
  const Features fs = features_of(classifier.net, samples, batch, device, black);
  const Features fr = features_of(classifier.net, reference, batch, device, black);
  const Features fo = features_of(classifier.net, other_split, batch, device, black);

  KidOptions kid;
  kid.seed = config.eval.seed;
  EvalRunResult result;
  const FeatureStatistics reference_stats = feature_statistics(fr.features);
  result.fid = frechet_distance(feature_statistics(fs.features), reference_stats);
  result.kid = kernel_inception_distance(fs.features, fr.features, kid);
  result.inception_score = inception_score(fs.probabilities, std::min<std::int64_t>(10, n));
  result.noise_floor_fid = frechet_distance(feature_statistics(fo.features), reference_stats);
  const MeanStd floor_kid = kernel_inception_distance(fo.features, fr.features, kid);
  const MeanStd reference_is = inception_score(fr.probabilities, std::min<std::int64_t>(10, n));

  const nlohmann::json json = {
      {"n", n},
      {"reference_split", config.eval.split},
      {"feature_extractor",
       fmt::format("classifier {} (test accuracy {:.4f}), {}-dim penultimate features",
                   config.eval.classifier, classifier.test_accuracy,
                   classifier.net->options().features)},
      {"fid", result.fid},
      {"kid", as_json(result.kid)},
      {"is", as_json(result.inception_score)},
      {"reference_is", as_json(reference_is)},
      {"noise_floor", {{"fid", result.noise_floor_fid}, {"kid", as_json(floor_kid)}}}};
  result.json = config::run_path(config, "metrics.json");
  write_file_atomically(result.json, json.dump(2) + "\n");
  log << fmt::format(
             "eval: FID {:.3f}  KID {:.5f} ± {:.5f}  IS {:.3f} ± {:.3f}  (n = {}; noise floor "
             "FID {:.3f}, KID {:.5f}; reference IS {:.3f})",
             result.fid, result.kid.mean, result.kid.std, result.inception_score.mean,
             result.inception_score.std, n, result.noise_floor_fid, floor_kid.mean,
             reference_is.mean)
      << "\n"
      << "wrote " << result.json.string() << std::endl;
  return result;
}

}  // namespace spdec::runtime
