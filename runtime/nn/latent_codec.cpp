#include "runtime/nn/latent_codec.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "lang/hash.hpp"
#include "runtime/nn/autoencoder_file.hpp"

namespace spdec::runtime {
namespace {

/// The probe batch's size: two images, so that a module that mixes its batch
/// or drops the batch dimension shows.
constexpr std::int64_t kProbeImages = 2;

std::string file_fingerprint(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return fmt::format("{:016x}", lang::fnv1a64(bytes.str()));
}

/// spdec's own autoencoder: the posterior mean is the code.
class SpdecCodec final : public LatentCodec {
 public:
  SpdecCodec(const std::filesystem::path& file, const LatentShape& shape, const at::Device& device)
      : loaded_(load_autoencoder(file)), device_(device) {
    bind(file, shape);
    loaded_.net->to(device_);
  }

  at::Tensor encode(const at::Tensor& images) override {
    const at::NoGradGuard no_grad;
    return loaded_.net->encode(to_symmetric_range(images.to(device_, at::kFloat), shape().range))
        .mean.contiguous();
  }

  at::Tensor decode(const at::Tensor& codes) override {
    const at::NoGradGuard no_grad;
    return from_symmetric_range(loaded_.net->decode(codes.to(device_, at::kFloat)), shape().range);
  }

  [[nodiscard]] std::string description() const override {
    const AutoencoderOptions& o = loaded_.net->options();
    return fmt::format(
        "spdec autoencoder {} ({} latent channels, factor {}, width {}, {} "
        "parameters)",
        file().string(), o.latent_channels, o.factor, o.channels, loaded_.net->parameter_count());
  }

 private:
  LoadedAutoencoder loaded_;
  at::Device device_;
};

/// A fixed batch in the data range: smooth ramps, distinct per image and channel.
at::Tensor probe_images(const LatentShape& shape, const at::Device& device) {
  const std::int64_t s = shape.image_side;
  const at::Tensor ramp = at::linspace(0.0, 1.0, s, at::kFloat);
  at::Tensor x = (ramp.view({1, 1, s, 1}) + ramp.view({1, 1, 1, s})) * 0.5;
  x = x.expand({kProbeImages, shape.image_channels, s, s}).clone();
  x[1] = 1.0 - x[1];
  if (shape.range == config::ValueRange::minus_one_one) x = x * 2.0 - 1.0;
  return x.to(device);
}

/// encode and decode on the probe batch: the shapes the run expects, finite.
void check_codec(LatentCodec& codec, const LatentShape& shape, const at::Device& device) {
  const std::string file = codec.file().string();
  const at::Tensor images = probe_images(shape, device);
  const std::vector<std::int64_t> latent{kProbeImages, shape.latent_channels, shape.latent_side(),
                                         shape.latent_side()};
  const std::string keys = fmt::format(
      "autoencoder.latent_channels = {}, autoencoder.factor = {}, images {}x{}x{} "
      "(data.channels, data.size)",
      shape.latent_channels, shape.factor, shape.image_channels, shape.image_side,
      shape.image_side);
  at::Tensor codes;
  try {
    codes = codec.encode(images);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw std::runtime_error(fmt::format("autoencoder {}: encode failed on a probe batch {}: {}",
                                         file, shape_text(images),
                                         what.substr(0, what.find('\n'))));
  }
  if (codes.sizes().vec() != latent) {
    throw std::runtime_error(fmt::format(
        "autoencoder {}: encode maps images {} to {}; the run expects {} ({}); set [autoencoder] "
        "to the module's shapes, or export one for the run's",
        file, shape_text(images), shape_text(codes), shape_text(at::empty(latent)), keys));
  }
  if (!codes.isfinite().all().item<bool>()) {
    throw std::runtime_error(
        fmt::format("autoencoder {}: encode gives non-finite codes on a probe batch", file));
  }
  at::Tensor decoded;
  try {
    decoded = codec.decode(codes);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw std::runtime_error(fmt::format("autoencoder {}: decode failed on codes {}: {}", file,
                                         shape_text(codes), what.substr(0, what.find('\n'))));
  }
  if (decoded.sizes() != images.sizes()) {
    throw std::runtime_error(
        fmt::format("autoencoder {}: decode maps codes {} to {}; the run expects images {} ({})",
                    file, shape_text(codes), shape_text(decoded), shape_text(images), keys));
  }
  if (!decoded.isfinite().all().item<bool>()) {
    throw std::runtime_error(
        fmt::format("autoencoder {}: decode gives non-finite images on a probe batch", file));
  }
}

}  // namespace

void LatentCodec::bind(const std::filesystem::path& file, const LatentShape& shape) {
  file_ = file;
  shape_ = shape;
  fingerprint_ = file_fingerprint(file);
}

at::Tensor to_symmetric_range(const at::Tensor& images, config::ValueRange range) {
  return range == config::ValueRange::zero_one ? images * 2.0 - 1.0 : images;
}

at::Tensor from_symmetric_range(const at::Tensor& images, config::ValueRange range) {
  return range == config::ValueRange::zero_one ? (images + 1.0) * 0.5 : images;
}

std::string shape_text(const at::Tensor& tensor) {
  std::string text = "[";
  for (std::int64_t i = 0; i < tensor.dim(); ++i) {
    text += (i > 0 ? ", " : "") + std::to_string(tensor.size(i));
  }
  return text + "]";
}

std::unique_ptr<LatentCodec> open_latent_codec(const std::filesystem::path& file,
                                               const LatentShape& shape, const at::Device& device) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw std::runtime_error(fmt::format(
        "autoencoder {} (model.autoencoder): no such file; train one with `spdec run autoencoder "
        "RUN.toml`, or export a TorchScript encoder/decoder pair (docs/latent.md)",
        file.string()));
  }
  if (shape.factor < 1 || shape.image_side % shape.factor != 0) {
    throw std::runtime_error(
        fmt::format("autoencoder {}: the image side {} is not a multiple of "
                    "autoencoder.factor = {}",
                    file.string(), shape.image_side, shape.factor));
  }
  std::unique_ptr<LatentCodec> codec;
  if (is_spdec_autoencoder(file)) {
    codec = std::make_unique<SpdecCodec>(file, shape, device);
  } else {
    codec = torchscript_codec(file, shape, device);
  }
  check_codec(*codec, shape, device);
  return codec;
}

}  // namespace spdec::runtime
