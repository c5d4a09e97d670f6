// The one collective of a data-parallel training step. Each rank
// back-propagates its rows' share of the global batch's mean loss
// (mean over its rows × rows / global rows), so the sum of the ranks'
// gradients is the gradient of the global batch's mean: the gradients are
// summed over the ranks in buckets (runtime/distributed/tensor_buckets.hpp)
// after the backward pass — not overlapped with it as PyTorch's
// DistributedDataParallel does through autograd hooks; train runs log the
// share of a step it takes. The loss and the ranks' stop requests (SIGINT,
// SIGTERM) ride along in a small extra buffer, so every rank sees the same
// global loss, the same gradients (and so takes the same optimiser step and
// keeps the same weights) and stops after the same step.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "runtime/distributed/rank_group.hpp"
#include "runtime/distributed/tensor_buckets.hpp"

namespace spdec::runtime {

class GradientSync {
 public:
  /// For `parameters` (their gradients are read and written in place).
  GradientSync(RankGroup& ranks, std::vector<at::Tensor> parameters);

  struct Reduced {
    double loss = 0.0;  ///< the global batch's mean loss
    bool stop = false;  ///< some rank was asked to stop
  };

  /// Sums the gradients over the ranks, and `loss_share` (this rank's share
  /// of the global mean loss) and `stop` with them. `step` names the
  /// collective in errors.
  Reduced all_reduce(double loss_share, bool stop, std::int64_t step);

  /// Wall seconds spent in all_reduce (packing, the collective, unpacking).
  [[nodiscard]] double seconds() const { return seconds_; }
  [[nodiscard]] std::int64_t calls() const { return calls_; }
  [[nodiscard]] std::size_t bucket_count() const;
  [[nodiscard]] std::int64_t bucket_bytes() const;

 private:
  RankGroup& ranks_;
  std::vector<at::Tensor> parameters_;
  std::optional<TensorBuckets> buckets_;  ///< built at the first call, when gradients exist
  double seconds_ = 0.0;
  std::int64_t calls_ = 0;
};

/// Rank 0's values of `tensors` (a network's parameters and buffers) into
/// every rank's, in buckets: the EMA weights before a sample grid.
void broadcast_module(RankGroup& ranks, const std::vector<at::Tensor>& tensors,
                      const std::string& what);

}  // namespace spdec::runtime
