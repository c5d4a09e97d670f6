// A user's TorchScript encoder/decoder pair as a LatentCodec (the contract is
// in runtime/nn/latent_codec.hpp). Kept apart because it is the one file of
// nn/ that needs LibTorch's JIT headers.
#include <fmt/format.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>

#include <stdexcept>
#include <string>

#include "runtime/nn/latent_codec.hpp"

namespace spdec::runtime {
namespace {

/// The first line of a LibTorch error: the rest is C++ and Python stacks.
std::string error_text(const std::exception& error) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  const std::string text =
      c10_error != nullptr ? c10_error->what_without_backtrace() : error.what();
  return text.substr(0, text.find('\n'));
}

class TorchScriptCodec final : public LatentCodec {
 public:
  TorchScriptCodec(const std::filesystem::path& file, const LatentShape& shape,
                   const at::Device& device)
      : device_(device) {
    bind(file, shape);
    try {
      module_ = torch::jit::load(file.string(), device_);
    } catch (const std::exception& error) {
      throw std::runtime_error(fmt::format(
          "autoencoder {} (model.autoencoder): neither a spdec autoencoder nor a TorchScript "
          "module spdec can load: {}",
          file.string(), error_text(error)));
    }
    for (const char* method : {"encode", "decode"}) {
      if (!module_.find_method(method)) {
        throw std::runtime_error(fmt::format(
            "autoencoder {}: the TorchScript module has no method `{}`; a latent space needs "
            "encode(x) -> z and decode(z) -> x (docs/latent.md; export them with "
            "@torch.jit.export)",
            file.string(), method));
      }
    }
    module_.eval();
  }

  at::Tensor encode(const at::Tensor& images) override {
    return call("encode", to_symmetric_range(images.to(device_, at::kFloat), shape().range));
  }

  at::Tensor decode(const at::Tensor& codes) override {
    return from_symmetric_range(call("decode", codes.to(device_, at::kFloat)), shape().range);
  }

  [[nodiscard]] std::string description() const override {
    return fmt::format("TorchScript {} (encode/decode on images in [-1, 1])", file().string());
  }

 private:
  at::Tensor call(const char* method, const at::Tensor& input) {
    const at::NoGradGuard no_grad;
    c10::IValue output;
    try {
      output = module_.get_method(method)({input.contiguous()});
    } catch (const std::exception& error) {
      throw std::runtime_error(fmt::format("autoencoder {}: {} failed on {}: {}", file().string(),
                                           method, shape_text(input), error_text(error)));
    }
    if (!output.isTensor()) {
      throw std::runtime_error(fmt::format("autoencoder {}: {} returned {}; expected a tensor",
                                           file().string(), method, output.tagKind()));
    }
    return output.toTensor().to(device_, at::kFloat);
  }

  at::Device device_;
  torch::jit::Module module_;
};

}  // namespace

std::unique_ptr<LatentCodec> torchscript_codec(const std::filesystem::path& file,
                                               const LatentShape& shape, const at::Device& device) {
  return std::make_unique<TorchScriptCodec>(file, shape, device);
}

}  // namespace spdec::runtime
