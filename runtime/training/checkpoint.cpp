#include "runtime/training/checkpoint.hpp"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "lang/hash.hpp"
#include "lang/os_reason.hpp"
#include "runtime/base/atomic_write.hpp"

namespace spdec::runtime {
namespace {

constexpr const char* kFormat = "spdec-checkpoint-1";

// The checksum trailer: the archive's bytes are followed by this tag and the
// 16 hex digits of their FNV-1a 64 (lang/hash.hpp), so a flipped bit or a
// torn copy is found before anything is loaded. LibTorch 1.13 does not verify
// the zip's CRCs itself. Files written before checksums have no trailer and
// are read as they are.
constexpr std::string_view kChecksumTag = "\nspdec-fnv1a64:";
constexpr std::size_t kTrailerSize = 15 + 16;  // the tag and the digits
static_assert(kChecksumTag.size() == 15);

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

/// The learned knots and, when asked for, their optimiser's state. A
/// checkpoint without knots (train.schedule_lr = 0, or older) holds the init
/// values: sampling keeps them, a resume that would train them is refused.
void read_schedules(torch::serialize::InputArchive& archive, const std::filesystem::path& file,
                    const CheckpointParts& parts) {
  for (auto& item : parts.schedules->named_parameters(true)) {
    const std::string key = "schedule/" + item.key();
    at::Tensor stored;
    if (!archive.try_read(key, stored)) {
      if (parts.schedule_optimizer == nullptr) return;
      throw checkpoint_error(file, "has no learned knots '" + key +
                                       "': it was trained with the knots fixed "
                                       "(train.schedule_lr = 0, or before joint training)");
    }
    read_tensor_into(archive, file, key, item.value(), false);
  }
  if (parts.schedule_optimizer == nullptr) return;
  torch::serialize::InputArchive optimizer;
  if (!archive.try_read("schedule_optimizer", optimizer)) {
    throw checkpoint_error(file, "has no optimiser state of the knots: it cannot resume training");
  }
  parts.schedule_optimizer->load(optimizer);
}

std::string read_string(torch::serialize::InputArchive& archive, const std::filesystem::path& file,
                        const std::string& key) {
  c10::IValue value;
  if (!archive.try_read(key, value) || !value.isString()) {
    throw checkpoint_error(file, "has no '" + key + "' entry: not a spdec checkpoint");
  }
  return value.toStringRef();
}

/// LibTorch's messages carry a backtrace after their first line: a person
/// reads the first, a developer sets SPDEC_VERBOSE=1 for the whole text.
std::string first_line(const std::string& text) {
  const char* verbose = std::getenv("SPDEC_VERBOSE");
  if (verbose != nullptr && *verbose != '\0' && std::string_view(verbose) != "0") return text;
  return text.substr(0, text.find('\n'));
}

/// Archive bytes with their checksum trailer, checked and stripped of it;
/// `name` (a file, or what sent them) names them in errors.
std::string verified(std::string bytes, const std::filesystem::path& name) {
  if (bytes.size() < kTrailerSize ||
      std::string_view(bytes).substr(bytes.size() - kTrailerSize, kChecksumTag.size()) !=
          kChecksumTag) {
    return bytes;  // written before checksums
  }
  const std::string stored = bytes.substr(bytes.size() - 16);
  bytes.resize(bytes.size() - kTrailerSize);
  if (lang::hex64(lang::fnv1a64(bytes)) != stored) {
    std::error_code ec;
    const std::filesystem::path previous = previous_checkpoint_path(name);
    throw checkpoint_error(
        name, "is damaged: its contents do not match its checksum (a flipped bit or a torn copy)" +
                  (std::filesystem::exists(previous, ec)
                       ? "; the previous checkpoint is " + previous.string() +
                             ": move it over this one to resume from it, or sample from it with "
                             "sample.checkpoint"
                       : std::string()));
  }
  return bytes;
}

/// The file's archive bytes, checked against its checksum trailer.
std::string verified_bytes(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    throw checkpoint_error(file, std::filesystem::is_symlink(file, ec)
                                     ? "is a dangling symbolic link"
                                     : "no such file");
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in) throw checkpoint_error(file, "cannot be read: " + lang::os_reason());
  return verified(content.str(), file);
}

/// An archive read from verified bytes, which it keeps alive.
struct OpenArchive {
  std::string bytes;
  torch::serialize::InputArchive archive;
};

std::unique_ptr<OpenArchive> open_bytes(std::string verified_archive,
                                        const std::filesystem::path& name) {
  auto opened = std::make_unique<OpenArchive>();
  opened->bytes = std::move(verified_archive);
  try {
    opened->archive.load_from(opened->bytes.data(), opened->bytes.size());
  } catch (const std::exception& e) {
    throw checkpoint_error(name,
                           std::string("not a readable checkpoint (") + first_line(e.what()) + ")");
  }
  return opened;
}

std::unique_ptr<OpenArchive> open(const std::filesystem::path& file) {
  return open_bytes(verified_bytes(file), file);
}

/// Refuses weights that are not finite, naming the first such tensor.
void require_finite(const torch::nn::Module& module, const std::string& prefix,
                    const std::function<std::runtime_error(const std::string&)>& fail) {
  for (const auto& item : module.named_parameters(true)) {
    if (!at::isfinite(item.value().detach()).all().item<bool>()) {
      throw fail("non-finite weights in " + prefix + item.key());
    }
  }
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
  if (c10::IValue source; archive.try_read("process_source", source) && source.isString()) {
    header.process_source = source.toStringRef();
  }
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
  c10::IValue scale;
  if (archive.try_read("latent/scale", scale)) {  // a latent run's
    c10::IValue autoencoder;
    c10::IValue pixels;
    if (!scale.isDouble() || !archive.try_read("latent/autoencoder", autoencoder) ||
        !autoencoder.isString() || !archive.try_read("latent/image_shape", pixels) ||
        !pixels.isIntList() || pixels.toIntVector().size() != 3) {
      throw checkpoint_error(file, "has a damaged latent space (latent/…)");
    }
    header.latent = LatentHeader{scale.toDouble(), autoencoder.toStringRef(), pixels.toIntVector()};
  }
  return header;
}

/// checkpoint.pt becomes checkpoint.prev.pt before it is replaced: a hard
/// link renamed into place, so checkpoint.pt itself is never missing.
void keep_previous(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return;
  const std::filesystem::path previous = previous_checkpoint_path(file);
  std::filesystem::path link = previous;
  link += ".link";
  std::filesystem::remove(link, ec);
  std::filesystem::create_hard_link(file, link, ec);
  if (!ec) std::filesystem::rename(link, previous, ec);
  if (ec) std::filesystem::remove(link, ec);  // best effort: the new checkpoint still lands
}

}  // namespace

std::filesystem::path previous_checkpoint_path(const std::filesystem::path& file) {
  std::filesystem::path previous = file;
  previous.replace_extension(".prev" + file.extension().string());
  return previous;
}

namespace {

/// The archive of a checkpoint with its checksum trailer; `refuse` makes the
/// error for weights that are not finite.
std::string archive_bytes(const CheckpointHeader& header, const CheckpointParts& parts,
                          const std::optional<GaussianPrior>& prior,
                          const std::optional<GaussianPrior>& data_spectrum,
                          const std::function<std::runtime_error(const std::string&)>& refuse) {
  if (parts.model != nullptr) require_finite(*parts.model, "model/", refuse);
  if (parts.ema != nullptr) require_finite(*parts.ema, "ema/", refuse);
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("process", c10::IValue(header.process));
  archive.write("config", c10::IValue(header.config));
  archive.write("process_source", c10::IValue(header.process_source));
  archive.write("objective", c10::IValue(std::string(lang::name(header.objective))));
  archive.write("step", c10::IValue(header.step));
  archive.write("parameterisation", c10::IValue(std::string(lang::name(header.parameterisation))));
  archive.write("image_shape", c10::IValue(header.image_shape));
  if (header.latent) {
    archive.write("latent/scale", c10::IValue(header.latent->scale));
    archive.write("latent/autoencoder", c10::IValue(header.latent->autoencoder));
    archive.write("latent/image_shape", c10::IValue(header.latent->image_shape));
  }
  if (parts.model != nullptr) write_module(archive, "model/", *parts.model);
  if (parts.ema != nullptr) write_module(archive, "ema/", *parts.ema);
  if (parts.optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer;
    parts.optimizer->save(optimizer);
    archive.write("optimizer", optimizer);
  }
  if (parts.schedules != nullptr) write_module(archive, "schedule/", *parts.schedules);
  if (parts.schedule_optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer;
    parts.schedule_optimizer->save(optimizer);
    archive.write("schedule_optimizer", optimizer);
  }
  if (prior) {
    archive.write("prior/mean", prior->mean());
    archive.write("prior/variance", prior->variance());
  }
  if (data_spectrum) {
    archive.write("data/mean", data_spectrum->mean());
    archive.write("data/variance", data_spectrum->variance());
  }
  std::ostringstream stream;
  archive.save_to(stream);
  std::string bytes = stream.str();
  const std::string checksum = lang::hex64(lang::fnv1a64(bytes));
  bytes += kChecksumTag;
  bytes += checksum;
  return bytes;
}

}  // namespace

std::string checkpoint_bytes(const CheckpointHeader& header, const CheckpointParts& parts,
                             const std::optional<GaussianPrior>& prior,
                             const std::optional<GaussianPrior>& data_spectrum) {
  return archive_bytes(header, parts, prior, data_spectrum, [&header](const std::string& what) {
    return std::runtime_error("the state of step " + std::to_string(header.step) + ": " + what);
  });
}

void save_checkpoint(const std::filesystem::path& file, const CheckpointHeader& header,
                     const CheckpointParts& parts, const std::optional<GaussianPrior>& prior,
                     const std::optional<GaussianPrior>& data_spectrum) {
  const auto refuse = [&file, &header](const std::string& what) {
    return checkpoint_error(file, "not written at step " + std::to_string(header.step) + ": " +
                                      what + " (the run diverged; the last checkpoint is kept)");
  };
  const std::string bytes = archive_bytes(header, parts, prior, data_spectrum, refuse);
  keep_previous(file);
  write_file_atomically(file, bytes);
}

CheckpointHeader read_checkpoint_header(const std::filesystem::path& file) {
  const auto opened = open(file);
  return read_header(opened->archive, file);
}

void require_checkpoint_process(const std::filesystem::path& file, const CheckpointHeader& header,
                                const std::string& expected, const ProcessMismatch& explain) {
  if (header.process == expected) return;
  const std::vector<std::string> differences =
      explain ? explain(header) : std::vector<std::string>{};
  std::string what = "was trained for another process than this run's";
  if (differences.empty()) {
    // Nothing in the run config differs: the .spde (an older checkpoint
    // keeps no copy of it) or the way spdec reads it.
    what +=
        " (the .spde's text, or, for checkpoints from before FED flows, process.flow: they "
        "need process.flow = \"explicit\")";
  } else {
    what += ":";
    for (const std::string& line : differences) what += "\n  " + line;
  }
  // The fingerprints last: they identify, the lines above explain.
  throw checkpoint_error(file, what +
                                   "\ntrain anew in another run.dir, or sample with the "
                                   "checkpoint's process (its run's config.toml)\n(it was trained "
                                   "for process " +
                                   header.process + ", not this run's " + expected + ")");
}

namespace {

/// load_checkpoint's work on an opened archive; `file` names it in errors.
CheckpointHeader load_opened(OpenArchive& opened, const std::filesystem::path& file,
                             const std::string& expected_process, const CheckpointParts& parts,
                             std::optional<GaussianPrior>* prior, const SpectralBasis* basis,
                             std::optional<GaussianPrior>* data_spectrum,
                             const ProcessMismatch& explain) {
  torch::serialize::InputArchive& archive = opened.archive;
  CheckpointHeader header = read_header(archive, file);
  if (!expected_process.empty()) {
    require_checkpoint_process(file, header, expected_process, explain);
  }
  const auto damaged = [&file](const std::string& what) { return checkpoint_error(file, what); };
  if (parts.model != nullptr) {
    read_module(archive, file, "model/", *parts.model);
    require_finite(*parts.model, "model/", damaged);
  }
  if (parts.ema != nullptr) {
    read_module(archive, file, "ema/", *parts.ema);
    require_finite(*parts.ema, "ema/", damaged);
  }
  if (parts.optimizer != nullptr) {
    torch::serialize::InputArchive optimizer;
    if (!archive.try_read("optimizer", optimizer)) {
      throw checkpoint_error(file, "has no optimiser state: it cannot resume training");
    }
    parts.optimizer->load(optimizer);
  }
  if (parts.schedules != nullptr) read_schedules(archive, file, parts);
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

}  // namespace

CheckpointHeader load_checkpoint(const std::filesystem::path& file,
                                 const std::string& expected_process, const CheckpointParts& parts,
                                 std::optional<GaussianPrior>* prior, const SpectralBasis* basis,
                                 std::optional<GaussianPrior>* data_spectrum,
                                 const ProcessMismatch& explain) {
  const auto opened = open(file);
  return load_opened(*opened, file, expected_process, parts, prior, basis, data_spectrum, explain);
}

CheckpointHeader load_checkpoint_bytes(const std::string& bytes, const std::filesystem::path& name,
                                       const std::string& expected_process,
                                       const CheckpointParts& parts,
                                       std::optional<GaussianPrior>* prior,
                                       const SpectralBasis* basis,
                                       std::optional<GaussianPrior>* data_spectrum) {
  const auto opened = open_bytes(verified(bytes, name), name);
  return load_opened(*opened, name, expected_process, parts, prior, basis, data_spectrum, {});
}

}  // namespace spdec::runtime
