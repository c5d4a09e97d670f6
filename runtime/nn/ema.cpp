#include "runtime/nn/ema.hpp"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <stdexcept>

namespace spdec::runtime {
namespace {

template <typename Update>
void for_each_pair(torch::nn::Module& target, const torch::nn::Module& source, Update update) {
  const at::NoGradGuard no_grad;
  auto target_parameters = target.parameters(true);
  const auto source_parameters = source.parameters(true);
  auto target_buffers = target.buffers(true);
  const auto source_buffers = source.buffers(true);
  if (target_parameters.size() != source_parameters.size() ||
      target_buffers.size() != source_buffers.size()) {
    throw std::invalid_argument("ema: the two networks differ in structure");
  }
  for (std::size_t i = 0; i < target_parameters.size(); ++i) {
    update(target_parameters[i], source_parameters[i]);
  }
  for (std::size_t i = 0; i < target_buffers.size(); ++i) {
    target_buffers[i].copy_(source_buffers[i]);
  }
}

}  // namespace

double ema_decay(double rate, std::int64_t n) {
  return std::min(rate, (1.0 + static_cast<double>(n)) / (10.0 + static_cast<double>(n)));
}

void ema_update(torch::nn::Module& average, const torch::nn::Module& current, double decay) {
  for_each_pair(average, current, [decay](at::Tensor& a, const at::Tensor& c) {
    a.mul_(decay).add_(c.detach(), 1.0 - decay);
  });
}

void copy_weights(torch::nn::Module& target, const torch::nn::Module& source) {
  for_each_pair(target, source, [](at::Tensor& a, const at::Tensor& c) { a.copy_(c.detach()); });
}

}  // namespace spdec::runtime
