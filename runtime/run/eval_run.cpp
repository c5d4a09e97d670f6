#include "runtime/run/eval_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "runtime/base/atomic_write.hpp"
#include "runtime/base/npy.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/eval/feature_extractor.hpp"
#include "runtime/eval/metrics.hpp"
#include "runtime/run/run_setup.hpp"
#include "runtime/run/sample_run.hpp"
#include "runtime/sampling/generate.hpp"

namespace spdec::runtime {
namespace {

/// The eval's two sets of n real images: the reference (eval.split) and the
/// noise floor's (the other split). A data set without splits (folder, idx)
/// gives its first n images and the n after them, so the floor never scores
/// a set against itself.
struct RealImages {
  at::Tensor reference;
  at::Tensor other;
  std::string reference_name;
  std::string other_name;
};

at::Tensor load_images(config::DataSection data, std::int64_t n, const std::string& what) {
  data.flip = false;
  const Dataset set = load_dataset(dataset_spec(data, n));
  if (set.size() < n) {
    throw std::runtime_error(fmt::format("eval.n = {} but {} has {} images", n, what, set.size()));
  }
  return set.to_float();
}

RealImages real_images(const config::RunConfig& config, std::int64_t n) {
  RealImages out;
  if (config::has_splits(config.data.dataset)) {
    const config::Split split = config.eval.split;
    const config::Split other = config::other_split(split);
    config::DataSection data = config.data;
    data.split = split;
    out.reference = load_images(data, n, fmt::format("the {} split", name(split)));
    data.split = other;
    out.other = load_images(data, n, fmt::format("the {} split", name(other)));
    out.reference_name = name(split);
    out.other_name = name(other);
    return out;
  }
  const std::string what = fmt::format(
      "data.path (no splits: the eval needs 2 x eval.n images, the reference and the noise "
      "floor's)");
  const at::Tensor both = load_images(config.data, 2 * n, what);
  out.reference = both.narrow(0, 0, n);
  out.other = both.narrow(0, n, n);
  out.reference_name = fmt::format("images 0..{}", n - 1);
  out.other_name = fmt::format("images {}..{}", n, 2 * n - 1);
  return out;
}

/// eval.n generated images on rank 0 (undefined on the others) and the
/// seed they were drawn with: samples.npy if it has enough (drawn by `run
/// sample` with sample.seed), else sampled now, by every rank, with
/// eval.seed. Rank 0 decides which, since it is the one that reads run.dir.
struct Generated {
  at::Tensor images;
  std::uint64_t seed = 0;
};
Generated generated_images(const config::RunConfig& config, const lang::Process& process,
                           std::ostream& log, RankGroup& ranks) {
  // The stem `spdec run sample` writes to (sample.output): eval reuses its draw.
  const std::filesystem::path file = config::run_path(config, config.sample.output + ".npy");
  at::Tensor samples;
  if (ranks.is_root() && std::filesystem::exists(file)) {
    samples = read_npy(file);
    if (samples.dim() != 4 || samples.size(0) < config.eval.n) samples = at::Tensor();
  }
  if (ranks.broadcast_flag(samples.defined(), "eval's choice of samples")) {
    if (!ranks.is_root()) return {};
    log << "eval: " << config.eval.n << " samples from " << file.string() << std::endl;
    return {samples.narrow(0, 0, config.eval.n).to(at::kFloat), config.sample.seed};
  }
  config::RunConfig sampling = config;
  sampling.sample.n = config.eval.n;
  sampling.sample.seed = config.eval.seed;
  log << "eval: sampling " << config.eval.n << " images" << std::endl;
  const SampleRunFiles files = run_sample(sampling, process, log, ranks);
  if (!ranks.is_root()) return {};
  return {read_npy(files.npy).to(at::kFloat), config.eval.seed};
}

/// For a class-conditional model scored with a classifier: the share of
/// samples the classifier puts in the class they were drawn for (the
/// labels generate gave them: sample.label, or random per sample id and
/// seed). How well guidance steers, beside how real the samples look.
std::optional<double> class_accuracy(const config::RunConfig& config, std::uint64_t seed,
                                     const at::Tensor& probabilities) {
  if (!config.model.class_conditional || !probabilities.defined()) return std::nullopt;
  if (probabilities.size(1) != config.model.num_classes) return std::nullopt;
  GenerateRequest request = generate_request(config);
  request.seed = seed;
  const std::int64_t n = probabilities.size(0);
  const at::Tensor labels = sample_labels(request, config.model.num_classes, 0, n, at::kCPU);
  return probabilities.argmax(1).eq(labels).to(at::kDouble).mean().item<double>();
}

nlohmann::json as_json(const MeanStd& v) { return {{"mean", v.mean}, {"std", v.std}}; }

bool wants(const config::EvalSection& eval, config::Metric metric) {
  return std::find(eval.metrics.begin(), eval.metrics.end(), metric) != eval.metrics.end();
}

/// The requested metrics of `generated` against `reference` features;
/// `reference_statistics` (their mean and D×D covariance, needed for FID) is
/// computed once by the caller for both the samples and the noise floor.
nlohmann::json score(const config::EvalSection& eval, const ExtractedFeatures& generated,
                     const ExtractedFeatures& reference,
                     const FeatureStatistics& reference_statistics) {
  nlohmann::json json = nlohmann::json::object();
  if (wants(eval, config::Metric::fid)) {
    json["fid"] = frechet_distance(feature_statistics(generated.features), reference_statistics);
  }
  if (wants(eval, config::Metric::kid)) {
    KidOptions kid;
    kid.seed = eval.seed;
    json["kid"] = as_json(kernel_inception_distance(generated.features, reference.features, kid));
  }
  if (wants(eval, config::Metric::precision_recall)) {
    const PrecisionRecall pr =
        precision_recall(reference.features, generated.features, eval.precision_recall_k);
    json["precision"] = pr.precision;
    json["recall"] = pr.recall;
  }
  if (wants(eval, config::Metric::is) && generated.probabilities.defined()) {
    const std::int64_t splits = std::min<std::int64_t>(10, generated.probabilities.size(0));
    json["is"] = as_json(inception_score(generated.probabilities, splits));
  }
  return json;
}

std::string summary_line(const nlohmann::json& m) {
  std::string line;
  if (m.contains("fid")) line += fmt::format("  FID {:.3f}", m["fid"].get<double>());
  if (m.contains("kid")) {
    line += fmt::format("  KID {:.5f} ± {:.5f}", m["kid"]["mean"].get<double>(),
                        m["kid"]["std"].get<double>());
  }
  if (m.contains("is") && m["is"].is_object()) {  // null: the extractor has no classes
    line += fmt::format("  IS {:.3f} ± {:.3f}", m["is"]["mean"].get<double>(),
                        m["is"]["std"].get<double>());
  }
  if (m.contains("class_accuracy")) {
    line +=
        fmt::format("  class accuracy {:.3f} (guidance {:g})", m["class_accuracy"].get<double>(),
                    m["class_accuracy_guidance"].get<double>());
  }
  if (m.contains("precision")) {
    line += fmt::format("  precision {:.3f}  recall {:.3f}", m["precision"].get<double>(),
                        m["recall"].get<double>());
  }
  return line;
}

}  // namespace

EvalRunResult run_eval(const config::RunConfig& config, const lang::Process& process,
                       std::ostream& log) {
  RankGroup alone;
  return run_eval(config, process, log, alone);
}

EvalRunResult run_eval(const config::RunConfig& config, const lang::Process& process,
                       std::ostream& log, RankGroup& ranks) {
  apply_thread_count(config, ranks.local_size());
  const at::Device device = choose_device(config.run.device, ranks);
  const ValueRange range = config.data.range;
  const std::unique_ptr<FeatureExtractor> extractor =
      make_feature_extractor(config.eval, range, device);
  log << "eval: features from " << extractor->description() << std::endl;
  const std::int64_t n = config.eval.n;
  const std::int64_t batch = config.eval.batch_size;
  const Generated drawn = generated_images(config, process, log, ranks);
  if (!ranks.is_root()) return {};
  const at::Tensor& samples = drawn.images;  // the features and metrics are rank 0's
  // FID and KID of a set with NaNs are NaN (or an eigensolver failure): say
  // what happened instead.
  if (const std::int64_t k = non_finite_images(samples); k > 0) {
    throw std::runtime_error("eval: " + non_finite_message(k, samples.size(0)) +
                             "; FID/KID/IS need finite images");
  }
  const ExtractedFeatures generated = extractor->extract(samples, batch);
  const RealImages real = real_images(config, n);
  if (!config::has_splits(config.data.dataset)) {
    log << "eval: data set \"" << name(config.data.dataset)
        << "\" has no splits: the reference is its " << real.reference_name
        << " (which training saw), the noise floor's set its " << real.other_name << std::endl;
  }
  const ExtractedFeatures reference = extractor->extract(real.reference, batch);
  const ExtractedFeatures other_split = extractor->extract(real.other, batch);

  nlohmann::json json = {{"n", n},
                         {"reference_split", real.reference_name},
                         {"feature_extractor", extractor->description()}};
  const FeatureStatistics reference_statistics = wants(config.eval, config::Metric::fid)
                                                     ? feature_statistics(reference.features)
                                                     : FeatureStatistics{};
  json.update(score(config.eval, generated, reference, reference_statistics));
  if (const auto accuracy = class_accuracy(config, drawn.seed, generated.probabilities)) {
    json["class_accuracy"] = *accuracy;
    json["class_accuracy_guidance"] = config.sample.guidance;
  }
  // The noise floor: what the same n real images of the other split score.
  json["noise_floor"] = score(config.eval, other_split, reference, reference_statistics);
  json["noise_floor"]["split"] = real.other_name;
  if (wants(config.eval, config::Metric::is)) {
    if (reference.probabilities.defined()) {
      json["reference_is"] =
          as_json(inception_score(reference.probabilities, std::min<std::int64_t>(10, n)));
    } else {
      json["is"] = nullptr;
      log << "eval: IS needs class scores; this feature extractor gives none (a TorchScript "
             "extractor must return (features, logits) for IS)"
          << std::endl;
    }
  }

  EvalRunResult result;
  result.summary = summary_line(json);
  result.json = config::run_path(config, "metrics.json");
  write_file_atomically(result.json, json.dump(2) + "\n");
  log << "eval (n = " << n << "):" << summary_line(json) << "\n"
      << "noise floor (" << real.other_name << " vs " << real.reference_name
      << "):" << summary_line(json["noise_floor"]);
  if (json.contains("reference_is")) {
    log << fmt::format("  (reference IS {:.3f})", json["reference_is"]["mean"].get<double>());
  }
  log << "\nwrote " << result.json.string() << std::endl;
  return result;
}

}  // namespace spdec::runtime
