// The `spdec run sample` job: load a run's checkpoint (its EMA weights by
// default), draw sample.n images with the configured sampler and write
// samples.png (a grid) and samples.npy (float32 [N, C, H, W], in the data
// range) into the run directory.
#pragma once

#include <filesystem>
#include <ostream>

#include "lang/process.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/distributed/rank_group.hpp"

namespace spdec::runtime {

struct SampleRunFiles {
  std::filesystem::path png;
  std::filesystem::path npy;
};

/// Throws std::runtime_error / std::invalid_argument naming what is wrong (no
/// checkpoint, one for another process or network, a sampler the process
/// cannot serve, I/O).
SampleRunFiles run_sample(const config::RunConfig& config, const lang::Process& process,
                          std::ostream& log);

/// The same as one rank of a data-parallel job: each rank draws its shard of
/// the samples (runtime/sampling/generate_on_ranks.hpp; bit for bit a
/// single rank's on the CPU) and rank 0 writes the files. Every rank reads
/// the checkpoint: run.dir (or sample.checkpoint) must be visible to all.
SampleRunFiles run_sample(const config::RunConfig& config, const lang::Process& process,
                          std::ostream& log, RankGroup& ranks);

}  // namespace spdec::runtime
