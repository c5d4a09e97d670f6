// A prefetching batch loader: a background thread prepares the next shuffled
// batches (index, flip, map to floats) while the caller trains on the current
// one. The order is a function of (seed, epoch) alone: the same seed gives the
// same batches, whatever the timing. Epochs follow one another forever; each
// visits every index once (the last batch is short unless drop_last).
//
// In a data-parallel job every rank runs the same loader over the same global
// batches and keeps its shard of each (runtime/base/shard.hpp): the global
// batch, and so the loss curve, do not depend on the number of ranks, and a
// row's flip is the one it gets on one rank.
#pragma once

#include <ATen/ATen.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/base/shard.hpp"
#include "runtime/data/dataset.hpp"

namespace spdec::runtime {

struct LoaderOptions {
  std::int64_t batch_size = 64;
  std::uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = false;
  std::int64_t prefetch = 2;  ///< batches prepared ahead (>= 1)
  /// The first batch to produce, counted over epochs (epoch = start_batch /
  /// batches_per_epoch): a resumed run continues the same sequence.
  std::int64_t start_batch = 0;
  /// This rank's shard of every global batch: rank `shard_rank` of
  /// `shard_count` (1: the whole batch).
  int shard_rank = 0;
  int shard_count = 1;
};

struct Batch {
  at::Tensor images;   ///< float32 [B, C, H, W] in the data set's range, flipped if asked
  at::Tensor labels;   ///< int64 [B]
  at::Tensor indices;  ///< int64 [B]: rows of the data set
  /// Which rows of the global batch these B are (all of them on one rank).
  Shard rows;
  std::int64_t epoch = 0;
  std::int64_t batch = 0;  ///< index within the epoch
};

class BatchLoader {
 public:
  BatchLoader(Dataset data, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  /// The next batch (blocks until it is ready); rethrows an error of the worker.
  Batch next();

  [[nodiscard]] std::int64_t batches_per_epoch() const;

  /// The permutation of 0..n−1 for an epoch (identity without shuffle): a
  /// Fisher–Yates shuffle driven by splitmix64 of (seed, epoch), portable.
  static std::vector<std::int64_t> epoch_order(std::int64_t n, std::uint64_t seed,
                                               std::int64_t epoch, bool shuffle);

 private:
  void work();
  Batch make_batch(const std::vector<std::int64_t>& order, std::int64_t epoch,
                   std::int64_t batch) const;

  Dataset data_;
  LoaderOptions options_;
  std::mutex mutex_;
  std::condition_variable ready_;  // a batch was queued, or the worker failed
  std::condition_variable space_;  // a batch was taken, or stop
  std::deque<Batch> queue_;
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace spdec::runtime
