#include "runtime/nn/latent_space.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

#include "runtime/base/progress.hpp"

namespace spdec::runtime {
namespace {

template <typename Call>
at::Tensor in_batches(const at::Tensor& values, Call call) {
  std::vector<at::Tensor> parts;
  for (std::int64_t first = 0; first < values.size(0); first += kCodecBatch) {
    const std::int64_t n = std::min(kCodecBatch, values.size(0) - first);
    parts.push_back(call(values.narrow(0, first, n)).to(values.device()));
  }
  return at::cat(parts);
}

}  // namespace

at::Tensor encode_in_batches(LatentCodec& codec, const at::Tensor& images) {
  return in_batches(images, [&codec](const at::Tensor& x) { return codec.encode(x); });
}

at::Tensor decode_in_batches(LatentCodec& codec, const at::Tensor& codes) {
  return in_batches(codes, [&codec](const at::Tensor& z) { return codec.decode(z); });
}

LatentSpace::LatentSpace(std::shared_ptr<LatentCodec> codec, double scale)
    : codec_(std::move(codec)), scale_(scale) {
  if (!(scale_ > 0.0) || !std::isfinite(scale_)) {
    throw std::invalid_argument(
        fmt::format("latent space: the scale must be positive, got {}", scale_));
  }
}

at::Tensor LatentSpace::encode(const at::Tensor& images) const {
  return encode_in_batches(*codec_, images) / scale_;
}

at::Tensor LatentSpace::decode(const at::Tensor& latents) const {
  return decode_in_batches(*codec_, latents * scale_);
}

double latent_scale(const at::Tensor& codes) {
  const double scale = codes.to(at::kDouble).std().item<double>();
  if (!(scale > 0.0) || !std::isfinite(scale)) {
    throw std::runtime_error(fmt::format(
        "the autoencoder's codes of the training images have standard deviation {}: it maps "
        "every image to one code (an untrained or broken autoencoder?)",
        scale));
  }
  return scale;
}

Dataset encode_dataset(const Dataset& data, LatentCodec& codec, std::ostream& log,
                       const std::string& job) {
  const at::Tensor images = data.images;
  const std::int64_t n = data.size();
  Progress progress(job + ": encode", 0, n, log, Progress::stderr_is_terminal(),
                    std::max<std::int64_t>(n / 4, kCodecBatch));
  std::vector<at::Tensor> parts;
  for (std::int64_t first = 0; first < n; first += kCodecBatch) {
    const std::int64_t count = std::min(kCodecBatch, n - first);
    parts.push_back(codec.encode(to_float(images.narrow(0, first, count), data.range))
                        .to(at::kCPU)
                        .contiguous());
    progress.update(first + count);
  }
  progress.finish();
  Dataset codes;
  codes.images = at::cat(parts);
  codes.labels = data.labels;
  codes.range = data.range;
  codes.flip = false;
  return codes;
}

}  // namespace spdec::runtime
