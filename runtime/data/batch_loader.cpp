#include "runtime/data/batch_loader.hpp"

#include <stdexcept>
#include <utility>

#include "runtime/base/splitmix.hpp"

namespace spdec::runtime {

std::vector<std::int64_t> BatchLoader::epoch_order(std::int64_t n, std::uint64_t seed,
                                                   std::int64_t epoch, bool shuffle) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  if (!shuffle) return order;
  std::uint64_t state = mix(seed, static_cast<std::uint64_t>(epoch), 0x5eed);
  for (std::int64_t i = n - 1; i > 0; --i) {
    // Modulo bias below 2^-40 for any realistic n.
    const auto j = static_cast<std::int64_t>(splitmix64(state) % static_cast<std::uint64_t>(i + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

BatchLoader::BatchLoader(Dataset data, LoaderOptions options)
    : data_(std::move(data)), options_(options) {
  if (data_.size() == 0) throw std::invalid_argument("batch loader: the data set is empty");
  if (options_.batch_size <= 0) throw std::invalid_argument("batch loader: batch_size must be > 0");
  if (options_.drop_last && options_.batch_size > data_.size()) {
    throw std::invalid_argument("batch loader: batch_size " + std::to_string(options_.batch_size) +
                                " > " + std::to_string(data_.size()) +
                                " images with drop_last: no batch at all");
  }
  if (options_.prefetch < 1) options_.prefetch = 1;
  if (options_.start_batch < 0) throw std::invalid_argument("batch loader: start_batch < 0");
  (void)shard_of(0, options_.shard_rank, options_.shard_count);  // throws for a bad rank
  worker_ = std::thread([this] { work(); });
}

BatchLoader::~BatchLoader() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  space_.notify_all();
  if (worker_.joinable()) worker_.join();
}

std::int64_t BatchLoader::batches_per_epoch() const {
  const std::int64_t n = data_.size();
  const std::int64_t b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

Batch BatchLoader::make_batch(const std::vector<std::int64_t>& order, std::int64_t epoch,
                              std::int64_t batch) const {
  const std::int64_t begin = batch * options_.batch_size;
  const std::int64_t end =
      std::min<std::int64_t>(begin + options_.batch_size, static_cast<std::int64_t>(order.size()));
  Batch out;
  out.epoch = epoch;
  out.batch = batch;
  out.rows = shard_of(end - begin, options_.shard_rank, options_.shard_count);
  out.indices = at::empty({out.rows.size()}, at::TensorOptions().dtype(at::kLong));
  std::int64_t* idx = out.indices.data_ptr<std::int64_t>();
  for (std::int64_t i = out.rows.begin; i < out.rows.end; ++i) {
    idx[i - out.rows.begin] = order[static_cast<std::size_t>(begin + i)];
  }
  at::Tensor images = data_.images.index_select(0, out.indices);
  if (data_.flip) {
    const std::uint64_t seed = mix(options_.seed ^ 0xf11bULL, static_cast<std::uint64_t>(epoch),
                                   static_cast<std::uint64_t>(batch));
    // The global batch's mask, then this shard's rows of it.
    const at::Tensor mask = random_flip_mask(end - begin, seed);
    images = flip_where(images, mask.narrow(0, out.rows.begin, out.rows.size()));
  }
  out.images = to_float(images, data_.range);
  out.labels = data_.labels.index_select(0, out.indices);
  return out;
}

void BatchLoader::work() {
  try {
    const std::int64_t per_epoch = batches_per_epoch();
    for (std::int64_t epoch = options_.start_batch / per_epoch;; ++epoch) {
      const std::vector<std::int64_t> order =
          epoch_order(data_.size(), options_.seed, epoch, options_.shuffle);
      const std::int64_t first =
          epoch == options_.start_batch / per_epoch ? options_.start_batch % per_epoch : 0;
      for (std::int64_t b = first; b < per_epoch; ++b) {
        Batch batch = make_batch(order, epoch, b);
        std::unique_lock<std::mutex> lock(mutex_);
        space_.wait(lock, [this] {
          return stop_ || static_cast<std::int64_t>(queue_.size()) < options_.prefetch;
        });
        if (stop_) return;
        queue_.push_back(std::move(batch));
        lock.unlock();
        ready_.notify_one();
      }
    }
  } catch (...) {
    const std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
  }
  ready_.notify_all();
}

Batch BatchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  ready_.wait(lock, [this] { return !queue_.empty() || error_; });
  if (queue_.empty()) std::rethrow_exception(error_);
  Batch batch = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  space_.notify_one();
  return batch;
}

}  // namespace spdec::runtime
