#include "runtime/training/checkpoint.hpp"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <sstream>
#include <stdexcept>
#include <utility>

#include "runtime/base/atomic_write.hpp"

namespace spdec::runtime {
namespace {

constexpr const char* kFormat = "spdec-checkpoint-1";

std::runtime_error checkpoint_error(const std::filesystem::path& file, const std::string& what) {
  return std::runtime_error("checkpoint " + file.string() + ": " + what);
}

void write_module(torch::serialize::OutputArchive& archive, const std::string& prefix,
                  const torch::nn::Module& module) {
  for (const auto& item : module.named_parameters(true)) {
    archive.write(prefix + item.key(), item.value().detach().to(at::kCPU));
  }
  for (const auto& item : module.named_buffers(true)) {
    archive.write(prefix + item.key(), item.value().to(at::kCPU), /*is_buffer=*/true);
  }
}

void read_tensor_into(torch::serialize::InputArchive& archive, const std::filesystem::path& file,
                      const std::string& key, at::Tensor& target, bool is_buffer) {
  at::Tensor stored;
  if (!archive.try_read(key, stored, is_buffer)) {
    throw checkpoint_error(
        file, "has no tensor '" + key + "': it was written for another network ([model] differs?)");
  }
  if (stored.sizes() != target.sizes()) {
    std::ostringstream text;
    text << "tensor '" << key << "' has shape " << stored.sizes() << ", the network expects "
         << target.sizes() << " ([model] differs from the checkpoint's?)";
    throw checkpoint_error(file, text.str());
  }
  const at::NoGradGuard no_grad;
  target.copy_(stored);
}

void read_module(torch::serialize::InputArchive& archive, const std::filesystem::path& file,
                 const std::string& prefix, torch::nn::Module& module) {
  for (auto& item : module.named_parameters(true)) {
    read_tensor_into(archive, file, prefix + item.key(), item.value(), false);
  }
  for (auto& item : module.named_buffers(true)) {
    read_tensor_into(archive, file, prefix + item.key(), item.value(), true);
  }
}

std::string read_string(torch::serialize::InputArchive& archive, const std::filesystem::path& file,
                        const std::string& key) {
  c10::IValue value;
  if (!archive.try_read(key, value) || !value.isString()) {
    throw checkpoint_error(file, "has no '" + key + "' entry: not a spdec checkpoint");
  }
  return value.toStringRef();
}

torch::serialize::InputArchive open(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) throw checkpoint_error(file, "no such file");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file.string());
  } catch (const std::exception& e) {
    throw checkpoint_error(file, std::string("not a readable checkpoint (") + e.what() + ")");
  }
  return archive;
}

/// A string entry spelled as one of `table`'s names.
template <typename Enum, std::size_t N>
Enum read_choice(torch::serialize::InputArchive& archive, const std::filesystem::path& file,
                 const char* key, const lang::EnumTable<Enum, N>& table) {
  const std::string text = read_string(archive, file, key);
  const std::optional<Enum> value = table.parse(text);
  if (!value) {
    throw checkpoint_error(
        file, std::string("has an unknown ") + key + " \"" + text + "\" (" + table.choices() + ")");
  }
  return *value;
}

CheckpointHeader read_header(torch::serialize::InputArchive& archive,
                             const std::filesystem::path& file) {
  if (read_string(archive, file, "format") != kFormat) {
    throw checkpoint_error(file, "unknown format (this spdec reads " + std::string(kFormat) + ")");
  }
  CheckpointHeader header;
  header.process = read_string(archive, file, "process");
  header.config = read_string(archive, file, "config");
  header.objective = read_choice(archive, file, "objective", lang::kObjectiveKinds);
  c10::IValue step;
  if (!archive.try_read("step", step) || !step.isInt()) {
    throw checkpoint_error(file, "has no step count");
  }
  header.step = step.toInt();
  c10::IValue parameterisation;
  if (archive.try_read("parameterisation", parameterisation)) {  // absent in older files: noise
    header.parameterisation =
        read_choice(archive, file, "parameterisation", lang::kParameterisations);
  }
  c10::IValue shape;
  if (!archive.try_read("image_shape", shape) || !shape.isIntList()) {
    throw checkpoint_error(file, "has no image shape");
  }
  header.image_shape = shape.toIntVector();
  if (header.image_shape.size() != 3) throw checkpoint_error(file, "has a bad image shape");
  return header;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& file, const CheckpointHeader& header,
                     const CheckpointParts& parts, const std::optional<GaussianPrior>& prior,
                     const std::optional<GaussianPrior>& data_spectrum) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("process", c10::IValue(header.process));
  archive.write("config", c10::IValue(header.config));
  archive.write("objective", c10::IValue(std::string(lang::name(header.objective))));
  archive.write("step", c10::IValue(header.step));
  archive.write("parameterisation", c10::IValue(std::string(lang::name(header.parameterisation))));
  archive.write("image_shape", c10::IValue(header.image_shape));
  if (parts.model != nullptr) write_module(archive, "model/", *parts.model);
  if (parts.ema != nullptr) write_module(archive, "ema/", *parts.ema);
  if (parts.optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer;
    parts.optimizer->save(optimizer);
    archive.write("optimizer", optimizer);
  }
  if (prior) {
    archive.write("prior/mean", prior->mean());
    archive.write("prior/variance", prior->variance());
  }
  if (data_spectrum) {
    archive.write("data/mean", data_spectrum->mean());
    archive.write("data/variance", data_spectrum->variance());
  }
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomically(file, bytes.str());
}

CheckpointHeader read_checkpoint_header(const std::filesystem::path& file) {
  torch::serialize::InputArchive archive = open(file);
  return read_header(archive, file);
}

void require_checkpoint_process(const std::filesystem::path& file, const CheckpointHeader& header,
                                const std::string& expected) {
  if (header.process == expected) return;
  throw checkpoint_error(file, "was trained for process " + header.process + ", not this run's " +
                                   expected +
                                   " (a different .spde, parameter, semantics or process.flow; "
                                   "checkpoints from before FED flows need process.flow = "
                                   "\"explicit\"); train anew in another run.dir, or sample "
                                   "with the matching process");
}

CheckpointHeader load_checkpoint(const std::filesystem::path& file,
                                 const std::string& expected_process, const CheckpointParts& parts,
                                 std::optional<GaussianPrior>* prior, const SpectralBasis* basis,
                                 std::optional<GaussianPrior>* data_spectrum) {
  torch::serialize::InputArchive archive = open(file);
  CheckpointHeader header = read_header(archive, file);
  if (!expected_process.empty()) require_checkpoint_process(file, header, expected_process);
  if (parts.model != nullptr) read_module(archive, file, "model/", *parts.model);
  if (parts.ema != nullptr) read_module(archive, file, "ema/", *parts.ema);
  if (parts.optimizer != nullptr) {
    torch::serialize::InputArchive optimizer;
    if (!archive.try_read("optimizer", optimizer)) {
      throw checkpoint_error(file, "has no optimiser state: it cannot resume training");
    }
    parts.optimizer->load(optimizer);
  }
  if (prior != nullptr && basis != nullptr) {
    at::Tensor mean;
    at::Tensor variance;
    if (archive.try_read("prior/mean", mean) && archive.try_read("prior/variance", variance)) {
      try {
        prior->emplace(*basis, mean, variance);
      } catch (const std::exception& e) {
        throw checkpoint_error(file, std::string("its prior does not fit this grid: ") + e.what());
      }
    }
  }
  if (data_spectrum != nullptr && basis != nullptr &&
      header.parameterisation == lang::Parameterisation::denoiser) {
    at::Tensor mean;
    at::Tensor variance;
    if (!archive.try_read("data/mean", mean) || !archive.try_read("data/variance", variance)) {
      throw checkpoint_error(file,
                             "is a denoiser network without the data spectrum it was trained "
                             "with (data/mean, data/variance): damaged or written by another tool");
    }
    try {
      data_spectrum->emplace(*basis, mean, variance);
    } catch (const std::exception& e) {
      throw checkpoint_error(file,
                             std::string("its data spectrum does not fit this grid: ") + e.what());
    }
  }
  return header;
}

}  // namespace spdec::runtime
