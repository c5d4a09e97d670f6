// A tiny run for the tests that train and sample: four distinct 8×8 grey
// images (bars and a square) in a PNG folder, a 16-channel U-Net, a spec
// with a few steps; overrides on top. Trains in seconds on the CPU.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lang/diagnostics.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/data/image_grid.hpp"

namespace spdec::test {

namespace fs = std::filesystem;

constexpr std::int64_t kSide = 8;
constexpr std::int64_t kImages = 4;

inline fs::path temp_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("spdec-tiny-run-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

/// Four distinct 8×8 grey images (bars and a square) as PNG files.
inline fs::path write_images(const fs::path& root) {
  const fs::path dir = root / "data";
  fs::create_directories(dir);
  for (std::int64_t k = 0; k < kImages; ++k) {
    at::Tensor image = at::full({1, kSide, kSide}, 30, at::TensorOptions().dtype(at::kByte));
    if (k == 0) image.narrow(2, 2, 3).fill_(220);
    if (k == 1) image.narrow(1, 2, 3).fill_(220);
    if (k == 2) image.narrow(1, 1, 6).narrow(2, 1, 6).fill_(200);
    if (k == 3) image.fill_(160);
    spdec::runtime::write_png(dir / ("image" + std::to_string(k) + ".png"), image);
  }
  return dir;
}

struct Run {
  spdec::config::RunConfig config;
  spdec::lang::Process process;
};

inline Run make_run(const fs::path& root, const std::string& spde,
                    const std::vector<std::string>& extra) {
  const std::string text = "[run]\nname = \"t\"\ndir = \"" + (root / "run").string() +
                           "\"\nthreads = 2\n"
                           "[process]\nfile = \"" +
                           spde +
                           "\"\n"
                           "[data]\ndataset = \"folder\"\npath = \"" +
                           write_images(root).string() +
                           "\"\nchannels = 1\nsize = 8\n"
                           "[model]\nbase_channels = 16\nchannel_mult = [1, 2]\n"
                           "num_res_blocks = 1\nattention_resolutions = []\ndropout = 0.1\n"
                           "[train]\nsteps = 12\nbatch_size = 8\nlr = 2e-3\nwarmup = 5\n"
                           "checkpoint_every = 4\nsample_every = 0\nlog_every = 1\n"
                           "prior_fit_images = 4\nema = 0.99\n"
                           "[sample]\nsteps = 20\nn = 4\nbatch_size = 4\n";
  spdec::lang::Diagnostics diagnostics;
  auto config = spdec::config::parse_run_config(text, "train-test.toml", root, extra, diagnostics);
  INFO(spdec::lang::render_all(diagnostics));
  REQUIRE(config.has_value());
  auto process = spdec::config::check_process(*config, diagnostics);
  INFO(spdec::lang::render_all(diagnostics));
  REQUIRE(process.has_value());
  return {*config, *process};
}

}  // namespace spdec::test
