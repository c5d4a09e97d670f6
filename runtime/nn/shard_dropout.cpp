#include "runtime/nn/shard_dropout.hpp"

#include <torch/nn/functional/dropout.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace spdec::runtime {

ShardDropoutImpl::ShardDropoutImpl(double p, std::shared_ptr<const Shard> rows)
    : p_(p), rows_(std::move(rows)) {
  if (!(p_ >= 0 && p_ < 1)) {
    throw std::invalid_argument("ShardDropout: p must be in [0, 1), got " + std::to_string(p_));
  }
}

torch::Tensor ShardDropoutImpl::forward(const torch::Tensor& x) {
  const Shard rows = rows_ ? *rows_ : Shard{};
  if (!is_training() || p_ == 0 || rows.total == 0 || rows.is_whole()) {
    return torch::dropout(x, p_, is_training());
  }
  if (rows.size() != x.size(0)) {
    throw std::invalid_argument("ShardDropout: the shard has " + std::to_string(rows.size()) +
                                " rows, the input " + std::to_string(x.size(0)));
  }
  // ATen's dropout on the whole batch, step for step (Bernoulli(1 − p)
  // noise, divided by 1 − p), then this shard's rows of it.
  std::vector<std::int64_t> shape = x.sizes().vec();
  shape[0] = rows.total;
  at::Tensor noise = at::empty(shape, x.options()).bernoulli_(1 - p_);
  noise.div_(1 - p_);
  return x * noise.narrow(0, rows.begin, rows.size());
}

}  // namespace spdec::runtime
