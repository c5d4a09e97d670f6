// generate() shared by the ranks of a data-parallel job
// (runtime/distributed/rank_group.hpp): the request's n samples form batches
// of request.batch_size as on one rank, the ranks split those batches (whole
// batches each, runtime/base/shard.hpp's batch_shard_of), each keeping its
// samples' ids — a sample's noise is keyed by its id
// (runtime/sampling/generate.hpp) — and rank 0 gathers all n in order. Every
// batch is the one a single rank draws, so on the CPU the samples are bit for
// bit a single rank's (tests/runtime/cli_distributed_sample.sh checks it);
// the ranks share the work only when there are at least as many batches as
// ranks (sample.batch_size ≤ sample.n / ranks).
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "runtime/distributed/rank_group.hpp"
#include "runtime/sampling/generate.hpp"

namespace spdec::runtime {

/// request.n samples (ids request.first ..) over the ranks: [n, C, H, W]
/// float32 on the CPU on rank 0, an undefined tensor on the others.
/// request.progress reports rank 0's own share. `what` names the gather in
/// errors ("sample's gather").
[[nodiscard]] at::Tensor generate_on_ranks(RankGroup& ranks, ProcessModel& model, UNet net,
                                           const NetworkHead& head,
                                           const std::optional<GaussianPrior>& prior,
                                           GenerateRequest request, const std::string& what);

}  // namespace spdec::runtime
