// `spdec run forward` as a job: the three files, and the compiled and
// reference backends giving the same forward.npy for the same seed.
#include "runtime/run/forward_run.hpp"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/base/npy.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/data/image_grid.hpp"
#include "runtime/run/run_setup.hpp"
#include "tests/runtime/test_support.hpp"

namespace {

std::filesystem::path temp_run_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("spdec-forward-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

/// `spdec run forward` on specs/<spec> with `overrides`; its log goes to `log`.
spdec::runtime::ForwardRunFiles run_spec(const std::string& spec,
                                         const std::vector<std::string>& overrides,
                                         std::ostream& log) {
  spdec::lang::Diagnostics diagnostics;
  const auto config = spdec::config::load_run_config(
      (std::filesystem::path(SPDEC_SOURCE_DIR) / "specs" / spec).string(), overrides, diagnostics);
  INFO(spdec::lang::render_all(diagnostics, {false}));
  REQUIRE(config.has_value());
  const auto process = spdec::config::check_process(*config, diagnostics);
  REQUIRE(process.has_value());
  return spdec::runtime::run_forward(*config, *process, log);
}

spdec::runtime::ForwardRunFiles run(const std::string& spec, const std::string& backend,
                                    const std::filesystem::path& dir) {
  std::ostringstream log;
  return run_spec(spec,
                  {"run.dir=\"" + dir.string() + "\"", "forward.images=2", "forward.times=3",
                   "process.backend=\"" + backend + "\""},
                  log);
}

}  // namespace

TEST_CASE("run forward writes the strip, the states and the report; backends agree",
          "[forward_run]") {
  spdec::test::torch_setup();
  if (!std::filesystem::exists(spdec::runtime::kFashionMnistDir)) {
    WARN("Fashion-MNIST not installed (dataset-fashion-mnist): skipped");
    return;
  }
  for (const char* spec : {"fmnist_perona_malik.toml", "fmnist_heat.toml"}) {
    INFO(spec);
    const auto compiled_dir = temp_run_dir("compiled");
    const auto reference_dir = temp_run_dir("reference");
    const auto compiled = run(spec, "compiled", compiled_dir);
    const auto reference = run(spec, "reference", reference_dir);
    for (const auto& file : {compiled.png, compiled.npy, compiled.json}) {
      CHECK(std::filesystem::file_size(file) > 0);
    }
    // Same IR, same Philox stream, float32: equal to rounding (1e-5).
    const at::Tensor a = spdec::runtime::read_npy(compiled.npy);
    const at::Tensor b = spdec::runtime::read_npy(reference.npy);
    REQUIRE(a.sizes() == at::IntArrayRef({3, 2, 1, 32, 32}));
    CHECK(spdec::test::max_abs_diff(a, b) <= 1e-5 * std::max(1.0, b.abs().max().item<double>()));
    std::ifstream in(compiled.json);
    const auto report = nlohmann::json::parse(in);
    CHECK(report["times"].size() == 3);
    CHECK(report["stats"][0]["explained_variance"].get<double>() == Approx(1.0));
    std::filesystem::remove_all(compiled_dir);
    std::filesystem::remove_all(reference_dir);
  }
}

TEST_CASE("run forward on a folder: stray files counted, coupled channels on grey data warned",
          "[forward_run]") {
  spdec::test::torch_setup();
  const auto dir = temp_run_dir("folder");
  const auto images = dir / "images";
  std::filesystem::create_directories(images);
  for (int i = 0; i < 2; ++i) {
    spdec::runtime::write_png(images / ("img" + std::to_string(i) + ".png"),
                              at::full({1, 16, 16}, 40 * (i + 1), at::kByte));
  }
  std::ofstream(images / "README.txt") << "where the images come from\n";
  // A process with `channels coupled`, the data one-channel.
  const auto spde = dir / "coupled.spde";
  std::ofstream(spde) << "process coupled\n"
                         "drift = div(1 / (1 + norm2(grad(u) / 0.05)) * grad(u))\n"
                         "diffusion = 0.1\n"
                         "channels coupled\n"
                         "time T = 0.01, dt = 1e-3\n";
  std::ostringstream log;
  (void)run_spec(
      "fmnist_heat.toml",
      {"run.dir=\"" + (dir / "run").string() + "\"", "process.file=\"" + spde.string() + "\"",
       "data.dataset=folder", "data.path=\"" + images.string() + "\"", "data.channels=1",
       "data.size=16", "forward.images=2", "forward.times=2", "process.backend=reference"},
      log);
  INFO(log.str());
  CHECK(log.str().find("forward: " + images.string() +
                       ": skipped 1 file without an image extension (README.txt)") !=
        std::string::npos);
  CHECK(log.str().find("forward: warning: coupled declares `channels coupled`, but the data has "
                       "one channel") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("the log's thread count agrees in number", "[forward_run]") {
  CHECK(spdec::runtime::cpu_threads_text(1) == "cpu (1 thread)");
  CHECK(spdec::runtime::cpu_threads_text(2) == "cpu (2 threads)");
}
