// Dropout that gives a rank's shard of a global batch the mask rows the whole
// batch would get on one rank. Each rank draws the whole batch's mask from the
// global generator (which the trainer reseeds per step) and keeps its rows, so
// row i is dropped alike on any number of ranks, and the loss curve does not
// depend on it. The whole mask costs a Bernoulli draw per activation of the
// global batch: small next to the convolutions of the rank's own rows.
//
// On the whole batch (one rank, or no shard set) it is torch::dropout itself,
// bit for bit what the U-Net computed before.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <memory>

#include "runtime/base/shard.hpp"

namespace spdec::runtime {

class ShardDropoutImpl : public torch::nn::Module {
 public:
  /// `rows` is shared with the network that owns the module; its
  /// set_batch_shard says which rows of the global batch the next forward
  /// sees (total 0: the whole batch).
  ShardDropoutImpl(double p, std::shared_ptr<const Shard> rows);

  torch::Tensor forward(const torch::Tensor& x);

 private:
  double p_;
  std::shared_ptr<const Shard> rows_;
};

TORCH_MODULE(ShardDropout);

}  // namespace spdec::runtime
