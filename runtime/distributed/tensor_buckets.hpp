// Many tensors (a network's gradients, its weights) packed into a few flat
// buffers for collectives, as PyTorch's DistributedDataParallel buckets its
// gradients: one all-reduce per bucket of at most `cap_bytes` instead of one
// per tensor, whose fixed cost dominates for the small tensors of a network
// (biases, norms). Each bucket holds tensors of one dtype, in the order given.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace spdec::runtime {

/// PyTorch DDP's default bucket: 25 MiB.
inline constexpr std::int64_t kBucketBytes = std::int64_t{25} << 20U;

class TensorBuckets {
 public:
  /// Buckets for tensors shaped like `like` (every one defined), on `device`.
  TensorBuckets(const std::vector<at::Tensor>& like, const at::Device& device,
                std::int64_t cap_bytes = kBucketBytes);

  /// Copies `tensors` (same shapes as `like`) into the buckets; an undefined
  /// tensor (a parameter without a gradient) packs as zeros.
  void pack(const std::vector<at::Tensor>& tensors);
  /// Copies the buckets back into `tensors`, skipping the undefined ones.
  void unpack(std::vector<at::Tensor>& tensors) const;

  /// The flat buffers, for the collective.
  [[nodiscard]] std::vector<at::Tensor>& buffers() { return buffers_; }
  [[nodiscard]] const std::vector<at::Tensor>& buffers() const { return buffers_; }
  [[nodiscard]] std::int64_t bytes() const;

 private:
  struct Slot {
    std::size_t bucket = 0;
    std::int64_t offset = 0;
    std::int64_t numel = 0;
  };
  std::vector<Slot> slots_;
  std::vector<at::Tensor> buffers_;
};

}  // namespace spdec::runtime
