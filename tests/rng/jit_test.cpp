// The embedded stream source (spdec::rng::kPhiloxSource) as the code
// generators use it: pasted into a translation unit with no #include at all,
// then compiled (1) by the host compiler with the C++ JIT's flags into a
// shared object and loaded with dlopen, (2) by NVRTC to PTX, and (3) where a
// CUDA driver and GPU exist, run on the GPU. The host object and the GPU must
// reproduce this process's values bit for bit.
#include <dlfcn.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <spdec/build_info.hpp>
#include <spdec/rng/philox_source.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "codegen/rng/philox.h"
#include "tests/rng/rng_reference.hpp"

#ifdef SPDEC_WITH_CUDA
#include <cuda.h>
#include <nvrtc.h>
#endif

namespace {

using spdec::rng_test::bits_float;
using spdec::rng_test::float_bits;

// Probes appended to the stream's source: per-index bodies shared by the host
// and the device, with host (OpenMP loop) and device (__global__) entry points.
constexpr std::string_view kProbeSource = R"probe(
SPDEC_RNG_FN void spdec_rng_probe_stream_at(unsigned long long seed, unsigned long long sample,
                                            unsigned long long step, unsigned int b,
                                            unsigned int* bits, float* z4, float* z1,
                                            float* zsum) {
  spdec_rng_bits4(seed, sample, step, b, bits + 4ull * b);
  spdec_gaussian4(seed, sample, step, b, z4 + 4ull * b);
  for (unsigned int j = 0; j < 4; ++j) {
    const unsigned long long n = 4ull * b + j;
    z1[n] = spdec_gaussian(seed, sample, step, n);
    // A caller's own arithmetic on the value: must not fuse with its product.
    zsum[n] = 0.1f + spdec_gaussian(seed, sample, step, n);
  }
}

SPDEC_RNG_FN void spdec_rng_probe_math_at(unsigned int first_bits, unsigned int stride,
                                          unsigned int i, float* logs, float* sins, float* coss) {
  logs[i] = spdec_rng_log(spdec_rng_bits_float(first_bits + i * stride));
  spdec_rng_sincos_turns(i * 0x9E3779B9u, sins + i, coss + i);
}

#if defined(__CUDACC_RTC__)
extern "C" __global__ void spdec_rng_probe_stream(unsigned long long seed,
                                                  unsigned long long sample,
                                                  unsigned long long step, unsigned int nblocks,
                                                  unsigned int* bits, float* z4, float* z1,
                                                  float* zsum) {
  const unsigned int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b < nblocks) spdec_rng_probe_stream_at(seed, sample, step, b, bits, z4, z1, zsum);
}

extern "C" __global__ void spdec_rng_probe_math(unsigned int first_bits, unsigned int stride,
                                                unsigned int count, float* logs, float* sins,
                                                float* coss) {
  const unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < count) spdec_rng_probe_math_at(first_bits, stride, i, logs, sins, coss);
}
#else
extern "C" void spdec_rng_probe_stream(unsigned long long seed, unsigned long long sample,
                                       unsigned long long step, unsigned int nblocks,
                                       unsigned int* bits, float* z4, float* z1, float* zsum) {
#pragma omp parallel for
  for (long long b = 0; b < static_cast<long long>(nblocks); ++b) {
    spdec_rng_probe_stream_at(seed, sample, step, static_cast<unsigned int>(b), bits, z4, z1,
                              zsum);
  }
}

extern "C" void spdec_rng_probe_math(unsigned int first_bits, unsigned int stride,
                                     unsigned int count, float* logs, float* sins, float* coss) {
#pragma omp parallel for
  for (long long i = 0; i < static_cast<long long>(count); ++i) {
    spdec_rng_probe_math_at(first_bits, stride, static_cast<unsigned int>(i), logs, sins, coss);
  }
}
#endif
)probe";

std::string probe_translation_unit() {
  std::string text(spdec::rng::kPhiloxSource);
  text += kProbeSource;
  return text;
}

// What the probes compute, computed here (this process's build of philox.h).
struct StreamValues {
  std::vector<std::uint32_t> bits;
  std::vector<float> z4, z1, zsum;
  explicit StreamValues(std::uint32_t nblocks)
      : bits(4ULL * nblocks), z4(4ULL * nblocks), z1(4ULL * nblocks), zsum(4ULL * nblocks) {}
};

struct MathValues {
  std::vector<float> logs, sins, coss;
  explicit MathValues(std::uint32_t count) : logs(count), sins(count), coss(count) {}
};

constexpr std::uint64_t kSeed = 0xC0FFEE0123456789ULL;
constexpr std::uint64_t kSample = 0x100000003ULL;  // above 2^32
constexpr std::uint64_t kStep = 4321;
// The log probe: floats from 2^-33 (the smallest uniform) to just below 1.
constexpr std::uint32_t kLogFirst = 0x2F000000U;             // 2^-33
constexpr std::uint32_t kLogSpan = 0x3F800000U - kLogFirst;  // up to 1
// The log probe's stride for `count` inputs spread over [2^-33, 1).
constexpr std::uint32_t log_stride(std::uint32_t count) { return kLogSpan / count; }

StreamValues host_stream(std::uint32_t nblocks) {
  StreamValues v(nblocks);
  for (std::uint32_t b = 0; b < nblocks; ++b) {
    spdec_rng_bits4(kSeed, kSample, kStep, b, &v.bits[4ULL * b]);
    spdec_gaussian4(kSeed, kSample, kStep, b, &v.z4[4ULL * b]);
    for (std::uint32_t j = 0; j < 4; ++j) {
      const std::uint64_t n = 4ULL * b + j;
      v.z1[n] = spdec_gaussian(kSeed, kSample, kStep, n);
      v.zsum[n] = 0.1F + spdec_gaussian(kSeed, kSample, kStep, n);
    }
  }
  return v;
}

MathValues host_math(std::uint32_t count) {
  MathValues v(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    v.logs[i] = spdec_rng_log(bits_float(kLogFirst + i * log_stride(count)));
    spdec_rng_sincos_turns(i * 0x9E3779B9U, &v.sins[i], &v.coss[i]);
  }
  return v;
}

// Number of positions where two float arrays differ bit for bit (and the first).
template <typename T>
std::size_t count_mismatches(const std::vector<T>& a, const std::vector<T>& b, std::size_t* first) {
  std::size_t count = 0;
  *first = a.size();
  for (std::size_t i = 0; i < a.size(); ++i) {
    bool same = false;
    if constexpr (std::is_same_v<T, float>) {
      same = float_bits(a[i]) == float_bits(b[i]);
    } else {
      same = a[i] == b[i];
    }
    if (!same) {
      if (count == 0) *first = i;
      ++count;
    }
  }
  return count;
}

// CHECKs that two arrays are equal bit for bit, naming the first difference.
template <typename T>
void check_same(const char* what, const std::vector<T>& got, const std::vector<T>& want) {
  std::size_t first = 0;
  const std::size_t mismatches = count_mismatches(got, want, &first);
  INFO(what << ": " << mismatches << " of " << got.size() << " differ, the first at " << first);
  CHECK(mismatches == 0U);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "spdec_rng_XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST_CASE("the embedded source is philox.h verbatim", "[rng][embed]") {
  const std::string on_disk =
      read_file(std::filesystem::path(SPDEC_SOURCE_DIR) / "codegen" / "rng" / "philox.h");
  REQUIRE_FALSE(on_disk.empty());
  CHECK(std::string(spdec::rng::kPhiloxSource) == on_disk);
  // No preprocessor #include directive (the comments may mention the word).
  std::istringstream lines{std::string(spdec::rng::kPhiloxSource)};
  std::string line;
  while (std::getline(lines, line)) {
    std::string_view rest(line);
    const auto skip_blanks = [&rest] {
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    };
    skip_blanks();
    if (rest.empty() || rest.front() != '#') continue;
    rest.remove_prefix(1);
    skip_blanks();
    CAPTURE(line);
    CHECK(rest.substr(0, 7) != "include");
  }
}

TEST_CASE("the embedded source compiles alone with the host JIT's flags and agrees bit for bit",
          "[rng][jit]") {
  // One compile: the C++ JIT's flags (-O3 -fopenmp -fPIC -shared), no system
  // include directories at all (-nostdinc -nostdinc++), warnings as errors,
  // and contraction on; with -mfma when this CPU has FMA, so the object uses
  // the FMA instruction and contracts where it may, while this process (built
  // without -mfma) uses the inline fma: the results must still be identical.
  TempDir dir;
  REQUIRE_FALSE(dir.path().empty());
  const auto source = dir.path() / "probe.cpp";
  const auto object = dir.path() / "probe.so";
  const auto log = dir.path() / "compile.log";
  {
    std::ofstream out(source);
    out << probe_translation_unit();
  }
  std::string flags =
      "-std=c++17 -O3 -fopenmp -fPIC -shared -nostdinc -nostdinc++ -Wall -Wextra -Wpedantic "
      "-Werror -ffp-contract=fast";
#if defined(__x86_64__) || defined(__i386__)
  const bool fma_cpu = static_cast<bool>(__builtin_cpu_supports("fma"));
  if (fma_cpu) flags += " -mfma";
#else
  const bool fma_cpu = false;
#endif
  const std::string command = std::string("'") + SPDEC_HOST_CXX + "' " + flags + " -o '" +
                              object.string() + "' '" + source.string() + "' > '" + log.string() +
                              "' 2>&1";
  INFO(command);
  const int rc = std::system(command.c_str());
  INFO(read_file(log));
  REQUIRE(rc == 0);

  // RTLD_NODELETE: the object pulls in libgomp, whose idle worker threads
  // outlive dlclose; unmapping their code would crash them at exit.
  void* handle = dlopen(object.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  INFO((handle == nullptr ? dlerror() : "loaded"));
  REQUIRE(handle != nullptr);
  using StreamFn = void (*)(unsigned long long, unsigned long long, unsigned long long,
                            unsigned int, unsigned int*, float*, float*, float*);
  using MathFn = void (*)(unsigned int, unsigned int, unsigned int, float*, float*, float*);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): dlsym's documented use
  auto* stream_fn = reinterpret_cast<StreamFn>(dlsym(handle, "spdec_rng_probe_stream"));
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): dlsym's documented use
  auto* math_fn = reinterpret_cast<MathFn>(dlsym(handle, "spdec_rng_probe_math"));
  REQUIRE(stream_fn != nullptr);
  REQUIRE(math_fn != nullptr);

  const std::uint32_t nblocks = 1U << 16;
  StreamValues got(nblocks);
  stream_fn(kSeed, kSample, kStep, nblocks, got.bits.data(), got.z4.data(), got.z1.data(),
            got.zsum.data());
  const StreamValues want = host_stream(nblocks);
  INFO("shared object built " << (fma_cpu ? "with" : "without") << " -mfma");
  check_same("got.bits", got.bits, want.bits);
  check_same("got.z4", got.z4, want.z4);
  check_same("got.z1", got.z1, want.z1);
  check_same("got.zsum", got.zsum, want.zsum);

  // ln over every 66th float from 2^-33 to 1, sin/cos over 2^22 angles.
  const std::uint32_t count = 1U << 22;
  MathValues mgot(count);
  math_fn(kLogFirst, log_stride(count), count, mgot.logs.data(), mgot.sins.data(),
          mgot.coss.data());
  const MathValues mwant = host_math(count);
  check_same("mgot.logs", mgot.logs, mwant.logs);
  check_same("mgot.sins", mgot.sins, mwant.sins);
  check_same("mgot.coss", mgot.coss, mwant.coss);
  dlclose(handle);
}

#ifdef SPDEC_WITH_CUDA
namespace {

std::string nvrtc_log(nvrtcProgram prog) {
  std::size_t size = 0;
  if (nvrtcGetProgramLogSize(prog, &size) != NVRTC_SUCCESS || size == 0) return {};
  std::string log(size, '\0');
  nvrtcGetProgramLog(prog, log.data());
  return log;
}

// A kernel that only calls the stream (no float arithmetic of its own), for
// auditing the instructions the stream compiles to.
constexpr std::string_view kAuditKernel = R"audit(
extern "C" __global__ void spdec_rng_audit(unsigned long long seed, unsigned long long sample,
                                           unsigned long long step, float* z, float* one) {
  const unsigned int b = blockIdx.x * blockDim.x + threadIdx.x;
  spdec_gaussian4(seed, sample, step, b, z + 4ull * b);
  one[b] = spdec_gaussian(seed, sample, step, b);
}
)audit";

// Compiles `text` (the probe translation unit by default); returns PTX, or
// CUBIN when `cubin`.
std::string nvrtc_compile(const std::vector<std::string>& options, bool cubin = false,
                          const std::string& text = probe_translation_unit()) {
  nvrtcProgram prog = nullptr;
  REQUIRE(nvrtcCreateProgram(&prog, text.c_str(), "spdec_rng_probe.cu", 0, nullptr, nullptr) ==
          NVRTC_SUCCESS);
  std::vector<const char*> opts;
  opts.reserve(options.size());
  for (const std::string& o : options) opts.push_back(o.c_str());
  const nvrtcResult rc = nvrtcCompileProgram(prog, static_cast<int>(opts.size()), opts.data());
  const std::string log = nvrtc_log(prog);
  INFO("NVRTC log:\n" << log);
  CHECK(rc == NVRTC_SUCCESS);
  std::string code;
  if (rc == NVRTC_SUCCESS) {
    std::size_t size = 0;
    if (cubin) {
      REQUIRE(nvrtcGetCUBINSize(prog, &size) == NVRTC_SUCCESS);
      code.resize(size);
      REQUIRE(nvrtcGetCUBIN(prog, code.data()) == NVRTC_SUCCESS);
    } else {
      REQUIRE(nvrtcGetPTXSize(prog, &size) == NVRTC_SUCCESS);
      code.resize(size);
      REQUIRE(nvrtcGetPTX(prog, code.data()) == NVRTC_SUCCESS);
    }
  }
  nvrtcDestroyProgram(&prog);
  return code;
}

}  // namespace

TEST_CASE("the embedded source compiles under NVRTC without any header", "[rng][nvrtc]") {
  // Default flags and --use_fast_math: the PTX must use only correctly rounded
  // float instructions (add.rn, mul.rn, fma.rn, div.rn, sqrt.rn, cvt.rn),
  // never an approximate one: with the host's equally rounded operations this
  // is what makes the device bit-identical to the host.
  for (const bool fast : {false, true}) {
    std::vector<std::string> options = {"--std=c++17"};
    if (fast) options.emplace_back("--use_fast_math");
    CAPTURE(fast);
    const std::string probe = nvrtc_compile(options);
    REQUIRE_FALSE(probe.empty());
    CHECK(probe.find(".entry spdec_rng_probe_stream") != std::string::npos);
    CHECK(probe.find(".entry spdec_rng_probe_math") != std::string::npos);
    const std::string ptx =
        nvrtc_compile(options, false, std::string(spdec::rng::kPhiloxSource) += kAuditKernel);
    REQUIRE(ptx.find(".entry spdec_rng_audit") != std::string::npos);
    CHECK(ptx.find(".approx") == std::string::npos);
    CHECK(ptx.find("mul.hi.u32") != std::string::npos);  // Philox's mulhi
    // Every float arithmetic or conversion instruction rounds to nearest
    // explicitly (.rn), so ptxas may not contract or approximate it.
    std::istringstream lines(ptx);
    std::string line;
    int float_ops = 0;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string op;
      words >> op;
      if (op.find(".f32") == std::string::npos) continue;
      const std::string name = op.substr(0, op.find('.'));
      if (name == "add" || name == "sub" || name == "mul" || name == "fma" || name == "mad" ||
          name == "div" || name == "sqrt" || name == "cvt" || name == "rcp" || name == "rsqrt" ||
          name == "sin" || name == "cos" || name == "lg2" || name == "ex2") {
        ++float_ops;
        CAPTURE(line);
        CHECK(op.find(".rn") != std::string::npos);
      }
    }
    CHECK(float_ops > 40);
  }
}

namespace {

// The few driver entry points the GPU test needs, loaded with dlopen so that
// the test binary never links libcuda (machines without a driver run it too).
struct Driver {
  void* lib = nullptr;
  CUresult (*init)(unsigned int) = nullptr;
  CUresult (*device_get_count)(int*) = nullptr;
  CUresult (*device_get)(CUdevice*, int) = nullptr;
  CUresult (*device_get_attribute)(int*, CUdevice_attribute, CUdevice) = nullptr;
  CUresult (*primary_ctx_retain)(CUcontext*, CUdevice) = nullptr;
  CUresult (*primary_ctx_release)(CUdevice) = nullptr;
  CUresult (*ctx_set_current)(CUcontext) = nullptr;
  CUresult (*module_load_data)(CUmodule*, const void*) = nullptr;
  CUresult (*module_unload)(CUmodule) = nullptr;
  CUresult (*module_get_function)(CUfunction*, CUmodule, const char*) = nullptr;
  CUresult (*mem_alloc)(CUdeviceptr*, std::size_t) = nullptr;
  CUresult (*mem_free)(CUdeviceptr) = nullptr;
  CUresult (*memcpy_dtoh)(void*, CUdeviceptr, std::size_t) = nullptr;
  CUresult (*launch)(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
                     unsigned int, unsigned int, unsigned int, CUstream, void**, void**) = nullptr;
  CUresult (*ctx_synchronize)() = nullptr;

  template <typename F>
  bool load(F& fn, const char* name) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): dlsym's documented use
    fn = reinterpret_cast<F>(dlsym(lib, name));
    return fn != nullptr;
  }
  bool open() {
    lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return false;
    return load(init, "cuInit") && load(device_get_count, "cuDeviceGetCount") &&
           load(device_get, "cuDeviceGet") && load(device_get_attribute, "cuDeviceGetAttribute") &&
           load(primary_ctx_retain, "cuDevicePrimaryCtxRetain") &&
           load(primary_ctx_release, "cuDevicePrimaryCtxRelease_v2") &&
           load(ctx_set_current, "cuCtxSetCurrent") && load(module_load_data, "cuModuleLoadData") &&
           load(module_unload, "cuModuleUnload") &&
           load(module_get_function, "cuModuleGetFunction") && load(mem_alloc, "cuMemAlloc_v2") &&
           load(mem_free, "cuMemFree_v2") && load(memcpy_dtoh, "cuMemcpyDtoH_v2") &&
           load(launch, "cuLaunchKernel") && load(ctx_synchronize, "cuCtxSynchronize");
  }
};

// Device buffers freed on scope exit.
struct DeviceBuffer {
  const Driver* driver;
  CUdeviceptr ptr = 0;
  std::size_t bytes;
  DeviceBuffer(const Driver& d, std::size_t n) : driver(&d), bytes(n) {
    REQUIRE(d.mem_alloc(&ptr, n) == CUDA_SUCCESS);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&&) = delete;
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  ~DeviceBuffer() {
    if (ptr != 0) driver->mem_free(ptr);
  }
  template <typename T>
  std::vector<T> download() const {
    std::vector<T> out(bytes / sizeof(T));
    REQUIRE(driver->memcpy_dtoh(out.data(), ptr, bytes) == CUDA_SUCCESS);
    return out;
  }
};

}  // namespace

TEST_CASE("on a GPU the stream is bit-identical to the host", "[rng][cuda]") {
  Driver driver;
  if (!driver.open()) {
    WARN("skipped: no CUDA driver (libcuda.so.1) on this machine");
    return;
  }
  int devices = 0;
  if (driver.init(0) != CUDA_SUCCESS || driver.device_get_count(&devices) != CUDA_SUCCESS ||
      devices == 0) {
    WARN("skipped: the CUDA driver reports no usable GPU (cuInit failed or no device)");
    return;
  }
  CUdevice dev = 0;
  REQUIRE(driver.device_get(&dev, 0) == CUDA_SUCCESS);
  int major = 0;
  int minor = 0;
  REQUIRE(driver.device_get_attribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev) ==
          CUDA_SUCCESS);
  REQUIRE(driver.device_get_attribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev) ==
          CUDA_SUCCESS);
  CUcontext ctx = nullptr;
  REQUIRE(driver.primary_ctx_retain(&ctx, dev) == CUDA_SUCCESS);
  REQUIRE(driver.ctx_set_current(ctx) == CUDA_SUCCESS);

  // --use_fast_math on purpose: the stream must not care.
  const std::string arch = "--gpu-architecture=sm_" + std::to_string(major) + std::to_string(minor);
  const std::string cubin = nvrtc_compile({"--std=c++17", arch, "--use_fast_math"}, true);
  REQUIRE_FALSE(cubin.empty());
  CUmodule module = nullptr;
  const CUresult load = driver.module_load_data(&module, cubin.data());
  if (load == CUDA_ERROR_UNSUPPORTED_PTX_VERSION || load == CUDA_ERROR_NO_BINARY_FOR_GPU) {
    WARN("skipped: the CUDA driver is older than NVRTC " << SPDEC_CUDA_VERSION
                                                         << " (cuModuleLoadData: " << load << ")");
    driver.primary_ctx_release(dev);
    return;
  }
  REQUIRE(load == CUDA_SUCCESS);
  CUfunction stream_fn = nullptr;
  CUfunction math_fn = nullptr;
  REQUIRE(driver.module_get_function(&stream_fn, module, "spdec_rng_probe_stream") == CUDA_SUCCESS);
  REQUIRE(driver.module_get_function(&math_fn, module, "spdec_rng_probe_math") == CUDA_SUCCESS);

  {
    std::uint32_t nblocks = 1U << 20;
    const std::size_t values = 4ULL * nblocks;
    DeviceBuffer bits(driver, values * 4);
    DeviceBuffer z4(driver, values * 4);
    DeviceBuffer z1(driver, values * 4);
    DeviceBuffer zsum(driver, values * 4);
    unsigned long long seed = kSeed;
    unsigned long long sample = kSample;
    unsigned long long step = kStep;
    void* args[] = {&seed, &sample, &step, &nblocks, &bits.ptr, &z4.ptr, &z1.ptr, &zsum.ptr};
    REQUIRE(driver.launch(stream_fn, (nblocks + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, args,
                          nullptr) == CUDA_SUCCESS);
    REQUIRE(driver.ctx_synchronize() == CUDA_SUCCESS);
    const StreamValues want = host_stream(nblocks);
    const auto got_bits = bits.download<std::uint32_t>();
    const auto got_z4 = z4.download<float>();
    const auto got_z1 = z1.download<float>();
    const auto got_zsum = zsum.download<float>();
    check_same("got_bits", got_bits, want.bits);
    check_same("got_z4", got_z4, want.z4);
    check_same("got_z1", got_z1, want.z1);
    check_same("got_zsum", got_zsum, want.zsum);
  }
  {
    std::uint32_t count = 1U << 24;
    std::uint32_t first = kLogFirst;
    std::uint32_t stride = log_stride(count);
    DeviceBuffer logs(driver, count * 4ULL);
    DeviceBuffer sins(driver, count * 4ULL);
    DeviceBuffer coss(driver, count * 4ULL);
    void* args[] = {&first, &stride, &count, &logs.ptr, &sins.ptr, &coss.ptr};
    REQUIRE(driver.launch(math_fn, (count + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, args,
                          nullptr) == CUDA_SUCCESS);
    REQUIRE(driver.ctx_synchronize() == CUDA_SUCCESS);
    const MathValues want = host_math(count);
    const auto got_logs = logs.download<float>();
    const auto got_sins = sins.download<float>();
    const auto got_coss = coss.download<float>();
    check_same("got_logs", got_logs, want.logs);
    check_same("got_sins", got_sins, want.sins);
    check_same("got_coss", got_coss, want.coss);
  }
  driver.module_unload(module);
  driver.primary_ctx_release(dev);
}
#endif  // SPDEC_WITH_CUDA
