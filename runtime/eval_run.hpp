// `spdec run eval`: sample quality in the feature space of the evaluation
// classifier (eval.classifier, from `spdec run classifier`). Reads
// <run.dir>/samples.npy when it holds at least eval.n images (else samples
// them first, as `spdec run sample` with sample.n = eval.n), takes eval.n
// reference images of data split eval.split, and writes <run.dir>/
// metrics.json: FID, KID (mean, std), IS (mean, std) of the samples, the same
// for the reference images themselves (IS) and, as the noise floor, the FID
// and KID between eval.n training and eval.n test images.
#pragma once

#include <filesystem>
#include <ostream>

#include "lang/process.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/metrics.hpp"

namespace spdec::runtime {

struct EvalRunResult {
  std::filesystem::path json;
  double fid = 0.0;
  MeanStd kid;
  MeanStd inception_score;
  double noise_floor_fid = 0.0;
};

EvalRunResult run_eval(const config::RunConfig& config, const lang::Process& process,
                       std::ostream& log);

}  // namespace spdec::runtime
