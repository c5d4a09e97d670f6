// The CUDA side without a GPU: NVRTC compiles to PTX and cubin through the
// cache; the arch choice; the driver API reports a clear error when there is
// no driver (and, where there is one, finds a device and loads a module).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "codegen/jit/cuda_driver.hpp"
#include "codegen/jit/nvrtc.hpp"
#include "jit_test_util.hpp"

namespace jit = spdec::jit;
using jit::test::scratch_dir;

namespace {

const std::string kKernel = "extern \"C\" __global__ void k(float* x) { x[threadIdx.x] *= 2; }\n";

jit::NvrtcOptions with_cache(jit::KernelCache& cache) {
  jit::NvrtcOptions options;
  options.cache = &cache;
  return options;
}

}  // namespace

TEST_CASE("choose_arch: cubin for the device's major version, else PTX", "[jit][cuda]") {
  const std::vector<int> supported{75, 80, 86, 89, 90, 100, 120};
  CHECK(jit::choose_arch(86, supported) == "sm_86");
  CHECK(jit::choose_arch(87, supported) == "sm_86");  // cubins run on later minor versions
  CHECK(jit::choose_arch(90, supported) == "sm_90");
  CHECK(jit::choose_arch(121, supported) == "sm_120");
  CHECK(jit::choose_arch(130, supported) == "compute_120");  // newer than NVRTC knows: PTX
  CHECK(jit::choose_arch(103, {75, 80, 90, 100}) == "sm_100");
  CHECK(jit::choose_arch(110, {75, 80, 90, 100}) == "compute_100");
  CHECK_THROWS_WITH(jit::choose_arch(61, supported), Catch::Contains("6.1"));
  CHECK_THROWS_AS(jit::choose_arch(90, {}), jit::JitError);
}

TEST_CASE("NVRTC: compile a kernel to PTX and cubin through the cache", "[jit][cuda]") {
  const auto dir = scratch_dir();
  jit::KernelCache cache(dir.path());
  jit::NvrtcCompiler nvrtc(with_cache(cache));
  if (!jit::nvrtc_built()) {
    CHECK_THROWS_WITH(nvrtc.compile(kKernel, "compute_75"),
                      Catch::Contains("CUDA backend not built"));
    CHECK_THROWS_WITH(jit::NvrtcCompiler::version(), Catch::Contains("CUDA backend not built"));
    return;
  }
  CHECK_FALSE(jit::NvrtcCompiler::version().empty());
  const std::vector<int> archs = jit::NvrtcCompiler::supported_archs();
  REQUIRE_FALSE(archs.empty());
  CHECK(std::is_sorted(archs.begin(), archs.end()));
  const std::string lowest = std::to_string(archs.front());

  jit::CompileResult info;
  const std::string ptx = nvrtc.compile(kKernel, "compute_" + lowest, "double", &info);
  CHECK_FALSE(info.cache_hit);
  CHECK_THAT(ptx, Catch::Contains(".entry k"));
  CHECK_THAT(ptx, Catch::Contains(".target sm_" + lowest));
  CHECK(ptx.find('\0') == std::string::npos);
  CHECK(info.artifact_path == cache.entry_path(nvrtc.key(kKernel, "compute_" + lowest, "double")));

  jit::CompileResult memory;
  CHECK(nvrtc.compile(kKernel, "compute_" + lowest, "double", &memory) == ptx);
  CHECK(memory.memory_hit);

  jit::NvrtcCompiler other(with_cache(cache));
  jit::CompileResult disk;
  CHECK(other.compile(kKernel, "compute_" + lowest, "double", &disk) == ptx);
  CHECK(disk.cache_hit);
  CHECK_FALSE(disk.memory_hit);

  const std::string cubin = nvrtc.compile(kKernel, "sm_" + lowest, "double");
  CHECK(cubin.rfind("\x7f"
                    "ELF",
                    0) == 0);

  CHECK_THROWS_WITH(nvrtc.compile(kKernel, "sm90"), Catch::Contains("not a CUDA architecture"));
  const auto options = nvrtc.options("sm_90");
  CHECK(std::find(options.begin(), options.end(), "--use_fast_math") == options.end());
  CHECK(nvrtc.key(kKernel, "sm_90", "").toolchain == jit::NvrtcCompiler::identity());
  CHECK_THAT(jit::NvrtcCompiler::identity(),
             Catch::StartsWith("nvrtc " + jit::NvrtcCompiler::version() + " (/"));
}

TEST_CASE("NVRTC: a compile error carries NVRTC's log", "[jit][cuda]") {
  if (!jit::nvrtc_built()) {
    return;
  }
  const auto dir = scratch_dir();
  jit::KernelCache cache(dir.path());
  jit::NvrtcCompiler nvrtc(with_cache(cache));
  const std::string source = "extern \"C\" __global__ void k(float* x) { x[0] = nope; }\n";
  const std::string arch =
      "compute_" + std::to_string(jit::NvrtcCompiler::supported_archs().front());
  try {
    (void)nvrtc.compile(source, arch, "broken");
    FAIL("the compile should have failed");
  } catch (const jit::CompileError& error) {
    CHECK_THAT(error.log(), Catch::Contains("nope"));
    CHECK(error.source() == source);
  }
  CHECK_FALSE(cache.load(nvrtc.key(source, arch, "broken")).has_value());
}

TEST_CASE("CUDA driver: a clear error without a driver, a device with one", "[jit][cuda]") {
  if (!jit::cuda_driver_available()) {
    const std::string why = jit::cuda_driver_error();
    INFO(why);
    CHECK((why.find("no CUDA driver (libcuda.so.1 not found)") != std::string::npos ||
           why.find("cuInit failed") != std::string::npos));
    CHECK_THROWS_WITH(jit::device_compute_capability(), why);
    CHECK_THROWS_WITH(jit::CudaModule::load("not a module"), why);
    return;
  }
  CHECK(jit::cuda_driver_error().empty());
  const int capability = jit::device_compute_capability();
  CHECK(capability > 0);
  CHECK(jit::device_compute_capability(0) > 0);
  if (!jit::nvrtc_built()) {
    return;
  }
  const auto dir = scratch_dir();
  jit::KernelCache cache(dir.path());
  jit::NvrtcCompiler nvrtc(with_cache(cache));
  const std::string image = nvrtc.compile("extern \"C\" __global__ void noop() {}\n",
                                          jit::NvrtcCompiler::arch_for_device(capability), "noop");
  const jit::CudaModule module = jit::CudaModule::load(image);
  const jit::CudaFunction function = module.function("noop");
  CHECK(function != nullptr);
  CHECK_THROWS_WITH(module.function("missing"), Catch::Contains("cuModuleGetFunction"));
  module.launch(function, {1, 1, 1}, {32, 1, 1}, 0, nullptr, nullptr);
}
