// How n rows (the images of a global batch, the samples of a draw) are split
// over the ranks of a data-parallel job: contiguous and balanced, each rank
// taking ⌊n/R⌋ rows and the first n mod R ranks one more (so rank 0 has work
// whenever there is any). Row i keeps its index in the whole
// (its noise, time and label are keyed by it), so what a row computes does
// not depend on how many ranks share the work; concatenating the shards in
// rank order gives the whole back.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace spdec::runtime {

/// Rows [begin, end) of a whole of `total` rows.
struct Shard {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t total = 0;
  [[nodiscard]] std::int64_t size() const { return end - begin; }
  /// The whole, unsplit (one rank).
  [[nodiscard]] bool is_whole() const { return begin == 0 && end == total; }
};

/// Rank `rank`'s rows of `total` split over `ranks`. Throws
/// std::invalid_argument for a rank outside [0, ranks) or a negative total.
[[nodiscard]] inline Shard shard_of(std::int64_t total, int rank, int ranks) {
  if (ranks < 1 || rank < 0 || rank >= ranks || total < 0) {
    throw std::invalid_argument("shard_of: rank " + std::to_string(rank) + " of " +
                                std::to_string(ranks) + " ranks, " + std::to_string(total) +
                                " rows");
  }
  const std::int64_t each = total / ranks;
  const std::int64_t extra = total % ranks;
  const std::int64_t begin = rank * each + std::min<std::int64_t>(rank, extra);
  return {begin, begin + each + (rank < extra ? 1 : 0), total};
}

/// Rank `rank`'s rows when `total` rows are drawn in batches of `batch` and
/// the ranks split the batches (whole batches each, contiguous, balanced):
/// every batch is then the one a single rank forms, row for row — what
/// sampling needs to be bit for bit a single rank's, since on the CPU a
/// kernel's rounding can depend on the batch size (a matrix product of one
/// row sums in another order than one of two).
[[nodiscard]] inline Shard batch_shard_of(std::int64_t total, std::int64_t batch, int rank,
                                          int ranks) {
  if (batch < 1) throw std::invalid_argument("batch_shard_of: batch < 1");
  const Shard batches = shard_of((total + batch - 1) / batch, rank, ranks);
  return {std::min(batches.begin * batch, total), std::min(batches.end * batch, total), total};
}

}  // namespace spdec::runtime
