// Checkpoint integrity: the checksum trailer finds a flipped bit, the
// replaced checkpoint is kept as checkpoint.prev.pt and offered, non-finite
// weights are neither written nor loaded, a dangling link is named, and
// files from before checksums still load.
#include "runtime/training/checkpoint.hpp"

#include <torch/nn/modules/linear.h>
#include <torch/serialize/output-archive.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "test_support.hpp"

namespace fs = std::filesystem;
namespace rt = spdec::runtime;

using spdec::test::read_bytes;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("spdec_checkpoint_test_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
}

rt::CheckpointHeader header_at(std::int64_t step) {
  rt::CheckpointHeader header;
  header.process = "p-0123";
  header.config = "[run]\n";
  header.step = step;
  header.image_shape = {1, 4, 4};
  return header;
}

void save(const fs::path& file, torch::nn::Linear& net, std::int64_t step) {
  rt::CheckpointParts parts;
  parts.model = net.get();
  rt::save_checkpoint(file, header_at(step), parts, std::nullopt, std::nullopt);
}

std::int64_t load_into(const fs::path& file, torch::nn::Linear& net) {
  rt::CheckpointParts parts;
  parts.model = net.get();
  return rt::load_checkpoint(file, "p-0123", parts, nullptr, nullptr).step;
}

}  // namespace

TEST_CASE("checkpoint: a flipped bit is refused and the previous checkpoint offered",
          "[checkpoint]") {
  spdec::test::torch_setup();
  const fs::path dir = fresh_dir("flip");
  const fs::path file = dir / "checkpoint.pt";
  torch::nn::Linear net(8, 8);
  save(file, net, 10);
  CHECK_FALSE(fs::exists(rt::previous_checkpoint_path(file)));
  save(file, net, 20);
  REQUIRE(fs::exists(dir / "checkpoint.prev.pt"));
  CHECK(rt::read_checkpoint_header(dir / "checkpoint.prev.pt").step == 10);

  torch::nn::Linear loaded(8, 8);
  CHECK(load_into(file, loaded) == 20);
  CHECK(at::equal(loaded->weight, net->weight));

  // One bit in the middle of the archive (inside the tensor data or its
  // metadata): LibTorch alone would load the tensor data silently.
  std::string bytes = read_bytes(file);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x08);
  write_bytes(file, bytes);
  CHECK_THROWS_WITH(load_into(file, loaded), Catch::Contains(file.string()) &&
                                                 Catch::Contains("is damaged") &&
                                                 Catch::Contains("checkpoint.prev.pt"));
  CHECK_THROWS_WITH(rt::read_checkpoint_header(file), Catch::Contains("is damaged"));
  // On request (moved over it), the previous one resumes.
  fs::rename(dir / "checkpoint.prev.pt", file);
  CHECK(load_into(file, loaded) == 10);
}

TEST_CASE("checkpoint: non-finite weights are not written and not loaded", "[checkpoint]") {
  spdec::test::torch_setup();
  const fs::path dir = fresh_dir("nan");
  const fs::path file = dir / "checkpoint.pt";
  torch::nn::Linear net(4, 4);
  save(file, net, 5);
  const std::string good = read_bytes(file);
  {
    const at::NoGradGuard no_grad;
    net->weight[0][0] = std::numeric_limits<float>::quiet_NaN();
  }
  CHECK_THROWS_WITH(save(file, net, 6), Catch::Contains("non-finite weights in model/weight") &&
                                            Catch::Contains("not written at step 6"));
  CHECK(read_bytes(file) == good);  // the last good checkpoint is untouched

  // A checkpoint holding non-finite weights (written by an older spdec) is
  // refused on load.
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string("spdec-checkpoint-1")));
  archive.write("process", c10::IValue(std::string("p-0123")));
  archive.write("config", c10::IValue(std::string("")));
  archive.write("objective", c10::IValue(std::string("exact")));
  archive.write("step", c10::IValue(static_cast<std::int64_t>(7)));
  archive.write("image_shape", c10::IValue(std::vector<std::int64_t>{1, 4, 4}));
  archive.write("model/weight", net->weight.detach());
  archive.write("model/bias", net->bias.detach());
  const fs::path old = dir / "old.pt";
  archive.save_to(old.string());
  torch::nn::Linear loaded(4, 4);
  CHECK_THROWS_WITH(load_into(old, loaded),
                    Catch::Contains(old.string()) && Catch::Contains("non-finite weights"));
}

TEST_CASE("checkpoint: files without a checksum load; a dangling link is named", "[checkpoint]") {
  spdec::test::torch_setup();
  const fs::path dir = fresh_dir("legacy");
  const fs::path file = dir / "checkpoint.pt";
  torch::nn::Linear net(3, 3);
  save(file, net, 3);
  // The trailer is "\nspdec-fnv1a64:" and 16 hex digits: without it the file
  // is what spdec wrote before checksums.
  std::string bytes = read_bytes(file);
  REQUIRE(bytes.substr(bytes.size() - 31, 15) == "\nspdec-fnv1a64:");
  bytes.resize(bytes.size() - 31);
  write_bytes(file, bytes);
  torch::nn::Linear loaded(3, 3);
  CHECK(load_into(file, loaded) == 3);
  CHECK(at::equal(loaded->weight, net->weight));

  const fs::path link = dir / "dangling.pt";
  fs::create_symlink(dir / "nowhere.pt", link);
  CHECK_THROWS_WITH(load_into(link, loaded),
                    Catch::Contains(link.string()) && Catch::Contains("dangling symbolic link"));
}

TEST_CASE("checkpoint: an unreadable file is refused in one line; SPDEC_VERBOSE shows the rest",
          "[checkpoint]") {
  spdec::test::torch_setup();
  const fs::path file = fresh_dir("unreadable") / "checkpoint.pt";
  write_bytes(file, "not a zip archive, and no checksum trailer either\n");
  torch::nn::Linear net(3, 3);
  const auto message = [&] {
    try {
      (void)load_into(file, net);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    FAIL("an unreadable checkpoint was loaded");
    return std::string();
  };
  ::unsetenv("SPDEC_VERBOSE");
  const std::string short_text = message();
  CHECK_THAT(short_text,
             Catch::Contains(file.string()) && Catch::Contains("not a readable checkpoint"));
  CHECK(short_text.find('\n') == std::string::npos);
  ::setenv("SPDEC_VERBOSE", "1", 1);
  const std::string long_text = message();
  ::unsetenv("SPDEC_VERBOSE");
  // LibTorch's reader error carries its source location and backtrace
  // after the first line; the verbose text keeps them.
  CHECK(long_text.size() > short_text.size());
  CHECK(long_text.find('\n') != std::string::npos);
}
