// TorchScript feature extractors (runtime/eval/feature_extractor.hpp): the
// preprocessing contract (data range → [0, 1], grey → RGB, bilinear resize),
// both output forms, and errors that name the file. The modules are written
// here with TorchScript source, saved and loaded back as a user's would be.
#include "runtime/eval/feature_extractor.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/jit/api/module.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using spdec::runtime::ValueRange;

/// A TorchScript module with the given forward, saved to a temporary file.
fs::path saved_module(const std::string& name, const std::string& forward) {
  torch::jit::Module module("SpdecTest" + name);
  module.define(forward);
  const fs::path file = fs::temp_directory_path() / ("spdec_feature_" + name + ".pt");
  module.save(file.string());
  return file;
}

}  // namespace

TEST_CASE("feature extractor: a TorchScript module sees [0, 1] RGB images of its size",
          "[metrics][torchscript]") {
  spdec::test::torch_setup();
  const fs::path file = saved_module("flatten", R"(
def forward(self, x):
    return x.flatten(1)
)");
  // Grey images in [-1, 1] at their own size (image_size 0): each grey
  // value v becomes (v + 1) / 2 in all three channels.
  const at::Tensor images = at::rand({5, 1, 4, 4}, spdec::test::f64()) * 2.0 - 1.0;
  const auto extractor = spdec::runtime::torchscript_features(
      file.string(), 0, ValueRange::minus_one_one, at::Device(at::kCPU));
  const auto out = extractor->extract(images, 2);  // batches of 2, 2 and 1
  const at::Tensor expected = ((images.to(at::kFloat) + 1.0) / 2.0).expand({5, 3, 4, 4});
  REQUIRE(out.features.sizes() == at::IntArrayRef({5, 48}));
  CHECK(at::allclose(out.features, expected.reshape({5, 48}).to(at::kDouble), 0, 1e-7));
  CHECK_FALSE(out.probabilities.defined());
  CHECK(extractor->description().find(file.string()) != std::string::npos);
  fs::remove(file);
}

TEST_CASE("feature extractor: (features, logits) give softmax class probabilities; resizing",
          "[metrics][torchscript]") {
  spdec::test::torch_setup();
  const fs::path file = saved_module("tuple", R"(
def forward(self, x):
    return (x.mean([2, 3]), 10.0 * x.flatten(1)[:, 0:4])
)");
  // Constant images: bilinear resizing to 8×8 keeps the constant, so the
  // channel means are exactly the [0, 1] value.
  const at::Tensor values = at::tensor({0.0, 0.25, 1.0}, spdec::test::f64());
  const at::Tensor images = values.view({3, 1, 1, 1}).expand({3, 1, 5, 5}).contiguous();
  const auto extractor = spdec::runtime::torchscript_features(
      file.string(), 8, ValueRange::zero_one, at::Device(at::kCPU));
  const auto out = extractor->extract(images, 16);
  REQUIRE(out.features.sizes() == at::IntArrayRef({3, 3}));
  CHECK(at::allclose(out.features, values.view({3, 1}).expand({3, 3}), 0, 1e-7));
  REQUIRE(out.probabilities.defined());
  REQUIRE(out.probabilities.sizes() == at::IntArrayRef({3, 4}));
  // The four logits of an image are equal: a uniform distribution.
  CHECK(at::allclose(out.probabilities, at::full({3, 4}, 0.25, spdec::test::f64()), 0, 1e-12));
  fs::remove(file);
}

TEST_CASE("feature extractor: unreadable files and wrong outputs are errors naming the file",
          "[metrics][torchscript]") {
  spdec::test::torch_setup();
  const fs::path junk = fs::temp_directory_path() / "spdec_feature_junk.pt";
  std::ofstream(junk) << "not a zip archive";
  const auto load_junk = [&] {
    return spdec::runtime::torchscript_features(junk.string(), 0, ValueRange::zero_one,
                                                at::Device(at::kCPU));
  };
  CHECK_THROWS_WITH(load_junk(),
                    Catch::Contains(junk.string()) && Catch::Contains("not a TorchScript module"));
  fs::remove(junk);

  const fs::path scalar = saved_module("scalar", R"(
def forward(self, x):
    return 3
)");
  const auto extractor = spdec::runtime::torchscript_features(
      scalar.string(), 0, ValueRange::zero_one, at::Device(at::kCPU));
  const at::Tensor images = at::zeros({2, 1, 4, 4});
  CHECK_THROWS_WITH((void)extractor->extract(images, 2),
                    Catch::Contains(scalar.string()) && Catch::Contains("(features, logits)"));
  CHECK_THROWS_WITH((void)extractor->extract(at::zeros({2, 2, 4, 4}), 2),
                    Catch::Contains("2 channels"));
  fs::remove(scalar);
}

TEST_CASE(
    "feature extractor: eval.feature_extractor wins over eval.classifier; neither is an "
    "error saying what to set",
    "[metrics]") {
  spdec::config::EvalSection eval;
  eval.feature_extractor.clear();
  eval.classifier.clear();
  CHECK_THROWS_WITH(
      spdec::runtime::make_feature_extractor(eval, ValueRange::zero_one, at::Device(at::kCPU)),
      Catch::Contains("eval.classifier") && Catch::Contains("eval.feature_extractor"));
  eval.feature_extractor = "/nonexistent/inception.pt";
  eval.classifier = "/nonexistent/classifier.pt";
  CHECK_THROWS_WITH(
      spdec::runtime::make_feature_extractor(eval, ValueRange::zero_one, at::Device(at::kCPU)),
      Catch::Contains("/nonexistent/inception.pt"));
}
