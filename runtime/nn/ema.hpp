// Exponential moving average of a network's weights (score_sde's EMA with
// its warm-up rate min(rate, (1 + n) / (10 + n)), n the number of updates):
// samples come from the average, which is much smoother than the last
// iterate.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>

namespace spdec::runtime {

/// The decay used at update n (0-based).
[[nodiscard]] double ema_decay(double rate, std::int64_t n);

/// average ← d · average + (1 − d) · current for every parameter; buffers
/// are copied. The two modules must have the same structure.
void ema_update(torch::nn::Module& average, const torch::nn::Module& current, double decay);

/// average ← current (parameters and buffers).
void copy_weights(torch::nn::Module& target, const torch::nn::Module& source);

}  // namespace spdec::runtime
