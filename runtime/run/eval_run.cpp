#include "runtime/run/eval_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
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

at::Tensor reference_images(const config::RunConfig& config, config::Split split, std::int64_t n) {
  config::DataSection data = config.data;
  data.split = split;
  data.flip = false;
  const Dataset set = load_dataset(dataset_spec(data, n));
  if (set.size() < n) {
    throw std::runtime_error(
        fmt::format("eval.n = {} but the {} split has {} images", n, name(split), set.size()));
  }
  return set.to_float();
}

/// eval.n generated images: samples.npy if it has enough, else sampled now.
at::Tensor generated_images(const config::RunConfig& config, const lang::Process& process,
                            std::ostream& log) {
  // The stem `spdec run sample` writes to (sample.output): eval reuses its draw.
  const std::filesystem::path file = config::run_path(config, config.sample.output + ".npy");
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
  if (m.contains("precision")) {
    line += fmt::format("  precision {:.3f}  recall {:.3f}", m["precision"].get<double>(),
                        m["recall"].get<double>());
  }
  return line;
}

}  // namespace

EvalRunResult run_eval(const config::RunConfig& config, const lang::Process& process,
                       std::ostream& log) {
  apply_thread_count(config);
  const at::Device device = choose_device(config.run.device);
  const ValueRange range = config.data.range;
  const std::unique_ptr<FeatureExtractor> extractor =
      make_feature_extractor(config.eval, range, device);
  log << "eval: features from " << extractor->description() << std::endl;
  const std::int64_t n = config.eval.n;
  const std::int64_t batch = config.eval.batch_size;
  const config::Split other = config::other_split(config.eval.split);
  const at::Tensor samples = generated_images(config, process, log);
  // FID and KID of a set with NaNs are NaN (or an eigensolver failure): say
  // what happened instead.
  if (const std::int64_t k = non_finite_images(samples); k > 0) {
    throw std::runtime_error("eval: " + non_finite_message(k, samples.size(0)) +
                             "; FID/KID/IS need finite images");
  }
  const ExtractedFeatures generated = extractor->extract(samples, batch);
  const ExtractedFeatures reference =
      extractor->extract(reference_images(config, config.eval.split, n), batch);
  const ExtractedFeatures other_split =
      extractor->extract(reference_images(config, other, n), batch);

  nlohmann::json json = {{"n", n},
                         {"reference_split", name(config.eval.split)},
                         {"feature_extractor", extractor->description()}};
  const FeatureStatistics reference_statistics = wants(config.eval, config::Metric::fid)
                                                     ? feature_statistics(reference.features)
                                                     : FeatureStatistics{};
  json.update(score(config.eval, generated, reference, reference_statistics));
  // The noise floor: what the same n real images of the other split score.
  json["noise_floor"] = score(config.eval, other_split, reference, reference_statistics);
  json["noise_floor"]["split"] = name(other);
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
      << "noise floor (" << name(other) << " vs " << name(config.eval.split)
      << "):" << summary_line(json["noise_floor"]);
  if (json.contains("reference_is")) {
    log << fmt::format("  (reference IS {:.3f})", json["reference_is"]["mean"].get<double>());
  }
  log << "\nwrote " << result.json.string() << std::endl;
  return result;
}

}  // namespace spdec::runtime
