#include "runtime/distributed/tensor_buckets.hpp"

#include <stdexcept>

namespace spdec::runtime {

TensorBuckets::TensorBuckets(const std::vector<at::Tensor>& like, const at::Device& device,
                             std::int64_t cap_bytes) {
  std::vector<std::int64_t> sizes;
  std::vector<at::ScalarType> types;
  for (const at::Tensor& tensor : like) {
    if (!tensor.defined()) throw std::invalid_argument("TensorBuckets: an undefined tensor");
    const std::int64_t bytes = tensor.numel() * static_cast<std::int64_t>(tensor.element_size());
    const bool fits =
        !sizes.empty() && types.back() == tensor.scalar_type() &&
        (sizes.back() + tensor.numel()) * static_cast<std::int64_t>(tensor.element_size()) <=
            cap_bytes;
    if (!fits || bytes > cap_bytes) {
      sizes.push_back(0);
      types.push_back(tensor.scalar_type());
    }
    slots_.push_back({sizes.size() - 1, sizes.back(), tensor.numel()});
    sizes.back() += tensor.numel();
  }
  for (std::size_t b = 0; b < sizes.size(); ++b) {
    buffers_.push_back(at::zeros({sizes[b]}, at::TensorOptions().dtype(types[b]).device(device)));
  }
}

void TensorBuckets::pack(const std::vector<at::Tensor>& tensors) {
  if (tensors.size() != slots_.size()) throw std::invalid_argument("TensorBuckets::pack: count");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Slot& slot = slots_[i];
    at::Tensor target = buffers_[slot.bucket].narrow(0, slot.offset, slot.numel);
    if (tensors[i].defined()) {
      target.copy_(tensors[i].detach().reshape({-1}));
    } else {
      target.zero_();
    }
  }
}

void TensorBuckets::unpack(std::vector<at::Tensor>& tensors) const {
  if (tensors.size() != slots_.size()) throw std::invalid_argument("TensorBuckets::unpack: count");
  const at::NoGradGuard no_grad;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined()) continue;
    const Slot& slot = slots_[i];
    tensors[i].copy_(
        buffers_[slot.bucket].narrow(0, slot.offset, slot.numel).view(tensors[i].sizes()));
  }
}

std::int64_t TensorBuckets::bytes() const {
  std::int64_t total = 0;
  for (const at::Tensor& buffer : buffers_) {
    total += buffer.numel() * static_cast<std::int64_t>(buffer.element_size());
  }
  return total;
}

}  // namespace spdec::runtime
