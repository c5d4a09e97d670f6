#include "runtime/distributed/gradient_sync.hpp"

#include <chrono>
#include <string>
#include <utility>

namespace spdec::runtime {

GradientSync::GradientSync(RankGroup& ranks, std::vector<at::Tensor> parameters)
    : ranks_(ranks), parameters_(std::move(parameters)) {}

GradientSync::Reduced GradientSync::all_reduce(double loss_share, bool stop, std::int64_t step) {
  if (ranks_.size() == 1) return {loss_share, stop};
  const auto began = std::chrono::steady_clock::now();
  const at::Device device = ranks_.collective_device();
  if (!buckets_) buckets_.emplace(parameters_, device);
  std::vector<at::Tensor> gradients;
  gradients.reserve(parameters_.size());
  for (const at::Tensor& parameter : parameters_) gradients.push_back(parameter.grad());
  buckets_->pack(gradients);
  std::vector<at::Tensor> buffers = buckets_->buffers();
  buffers.push_back(
      at::tensor({loss_share, stop ? 1.0 : 0.0}, at::TensorOptions().dtype(at::kDouble))
          .to(device));
  ranks_.all_reduce_sum(buffers,
                        "the all-reduce of step " + std::to_string(step + 1) + "'s gradients");
  buckets_->unpack(gradients);
  const at::Tensor scalars = buffers.back().to(at::kCPU);
  const Reduced out{scalars[0].item<double>(), scalars[1].item<double>() > 0};
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  ++calls_;
  return out;
}

std::size_t GradientSync::bucket_count() const { return buckets_ ? buckets_->buffers().size() : 0; }

std::int64_t GradientSync::bucket_bytes() const { return buckets_ ? buckets_->bytes() : 0; }

void broadcast_module(RankGroup& ranks, const std::vector<at::Tensor>& tensors,
                      const std::string& what) {
  if (ranks.size() == 1 || tensors.empty()) return;
  TensorBuckets buckets(tensors, ranks.collective_device());
  buckets.pack(tensors);
  ranks.broadcast(buckets.buffers(), what);
  std::vector<at::Tensor> targets = tensors;
  buckets.unpack(targets);
}

}  // namespace spdec::runtime
