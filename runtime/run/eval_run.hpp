// `spdec run eval`: sample quality in the feature space of a feature
// extractor (runtime/eval/feature_extractor.hpp: spdec's own classifier,
// eval.classifier, or a TorchScript network, eval.feature_extractor). Reads
// <run.dir>/samples.npy when it holds at least eval.n images (else samples
// them first, as `spdec run sample` with sample.n = eval.n), takes eval.n
// reference images of data split eval.split, and writes <run.dir>/
// metrics.json: the metrics of eval.metrics (FID, KID mean/std, IS mean/std,
// precision/recall) of the samples; as the noise floor, the same metrics of
// eval.n images of the other split; and the reference images' own IS.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

#include "lang/process.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/distributed/rank_group.hpp"

namespace spdec::runtime {

struct EvalRunResult {
  std::filesystem::path json;  ///< metrics.json
  std::string summary;         ///< the metrics in one line, as printed
};

EvalRunResult run_eval(const config::RunConfig& config, const lang::Process& process,
                       std::ostream& log);

/// The same as one rank of a data-parallel job: the samples are drawn by
/// every rank (as run_sample's), the features and metrics are rank 0's,
/// which alone writes metrics.json (the others return an empty result).
EvalRunResult run_eval(const config::RunConfig& config, const lang::Process& process,
                       std::ostream& log, RankGroup& ranks);

}  // namespace spdec::runtime
