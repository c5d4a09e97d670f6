#include "runtime/nn/autoencoder_file.hpp"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <optional>
#include <stdexcept>
#include <vector>

#include "runtime/nn/module_file.hpp"

namespace spdec::runtime {
namespace {

constexpr const char* kFormat = "spdec-autoencoder-1";

struct Header {
  AutoencoderOptions options;
  std::int64_t image_side = 0;
  std::string report;
};

/// The header of a loaded archive; nullopt when it is not a spdec autoencoder.
std::optional<Header> read_header(torch::serialize::InputArchive& archive) {
  c10::IValue format;
  c10::IValue options;
  c10::IValue side;
  c10::IValue report;
  if (!archive.try_read("format", format) || !format.isString() ||
      format.toStringRef() != kFormat || !archive.try_read("options", options) ||
      !options.isIntList() || options.toIntVector().size() != 4 ||
      !archive.try_read("image_side", side) || !side.isInt() ||
      !archive.try_read("report", report) || !report.isString()) {
    return std::nullopt;
  }
  const std::vector<std::int64_t> o = options.toIntVector();
  Header header;
  header.options = AutoencoderOptions{o[0], o[1], o[2], o[3]};
  header.image_side = side.toInt();
  header.report = report.toStringRef();
  return header;
}

/// nullopt when the file is not a readable archive.
std::optional<std::string> load_archive(const std::filesystem::path& file,
                                        torch::serialize::InputArchive& archive) {
  try {
    archive.load_from(file.string());
  } catch (const std::exception& e) {
    const std::string what = e.what();
    return what.substr(0, what.find('\n'));
  }
  return std::nullopt;
}

}  // namespace

void save_autoencoder(const std::filesystem::path& file, Autoencoder& net, std::int64_t image_side,
                      const std::string& report) {
  torch::serialize::OutputArchive archive;
  const AutoencoderOptions& o = net->options();
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("options", c10::IValue(std::vector<std::int64_t>{
                               o.image_channels, o.latent_channels, o.factor, o.channels}));
  archive.write("image_side", c10::IValue(image_side));
  archive.write("report", c10::IValue(report));
  save_module_file(file, archive, *net);
}

bool is_spdec_autoencoder(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return false;
  torch::serialize::InputArchive archive;
  if (load_archive(file, archive)) return false;
  return read_header(archive).has_value();
}

LoadedAutoencoder load_autoencoder(const std::filesystem::path& file) {
  const auto fail = [&file](const std::string& what) {
    return std::runtime_error("autoencoder " + file.string() + ": " + what);
  };
  if (!std::filesystem::exists(file)) {
    throw fail("no such file (train one with `spdec run autoencoder RUN.toml`)");
  }
  torch::serialize::InputArchive archive;
  if (const auto problem = load_archive(file, archive)) {
    throw fail("not readable (" + *problem + ")");
  }
  const std::optional<Header> header = read_header(archive);
  if (!header) throw fail("not a spdec autoencoder (" + std::string(kFormat) + ")");
  LoadedAutoencoder loaded;
  loaded.net = Autoencoder(header->options);
  try {
    loaded.net->load(archive);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw fail("its weights do not fit its options (" + what.substr(0, what.find('\n')) + ")");
  }
  loaded.net->eval();
  loaded.image_side = header->image_side;
  loaded.report = header->report;
  return loaded;
}

}  // namespace spdec::runtime
