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

#include "runtime/base/npy.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/data/dataset.hpp"
#include "tests/runtime/test_support.hpp"

namespace {

std::filesystem::path temp_run_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("spdec-forward-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

spdec::runtime::ForwardRunFiles run(const std::string& spec, const std::string& backend,
                                    const std::filesystem::path& dir) {
  spdec::lang::Diagnostics diagnostics;
  const auto config = spdec::config::load_run_config(
      (std::filesystem::path(SPDEC_SOURCE_DIR) / "specs" / spec).string(),
      {"run.dir=\"" + dir.string() + "\"", "forward.images=2", "forward.times=3",
       "process.backend=\"" + backend + "\""},
      diagnostics);
  INFO(spdec::lang::render_all(diagnostics, {false}));
  REQUIRE(config.has_value());
  const auto process = spdec::config::check_process(*config, diagnostics);
  REQUIRE(process.has_value());
  std::ostringstream log;
  return spdec::runtime::run_forward(*config, *process, log);
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
