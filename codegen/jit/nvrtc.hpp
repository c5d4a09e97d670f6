// The CUDA JIT: CUDA source text -> NVRTC -> cubin (arch "sm_XY") or PTX
// (arch "compute_XY"), through the KernelCache (byte entries, see cache.hpp).
//
// Options: --std=c++17 -default-device --gpu-architecture=<arch>; fast math
// is off unless asked for (kernels must match the CPU to 1e-5), and the CUDA
// headers are on the include path only when asked for (generated code is
// self-contained). The cache key holds a hash of the source, the arch,
// identity() (NVRTC's version and library file) and these options.
//
// Pick the arch for a device with arch_for_device(compute capability): a
// cubin when NVRTC knows the device's major architecture, else PTX for the
// newest architecture NVRTC supports below the device, which the driver
// compiles on load. Load either with CudaModule (cuda_driver.hpp); NVRTC
// itself needs no GPU and no driver.
//
// In a build without the CUDA backend (no NVRTC found at configure time)
// every member throws JitError("CUDA backend not built ..."); choose_arch
// still works. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "codegen/jit/cache.hpp"
#include "codegen/jit/error.hpp"

namespace spdec::jit {

/// Whether this spdec was built with NVRTC (the CUDA backend).
[[nodiscard]] bool nvrtc_built();

/// The arch to compile for a device of compute capability `capability`
/// (major * 10 + minor, e.g. 86) given NVRTC's supported architectures (same
/// encoding): "sm_S" for the newest supported S <= capability with the same
/// major version (cubins run on later minor versions), else "compute_S" for
/// the newest supported S <= capability (PTX runs on any later device).
/// Throws JitError when every supported architecture is newer than the device.
[[nodiscard]] std::string choose_arch(int capability, const std::vector<int>& supported);

struct NvrtcOptions {
  bool fast_math = false;                  ///< --use_fast_math (changes results: off by default)
  bool include_cuda_headers = false;       ///< -I<CUDA include dir> for sources that include them
  std::vector<std::string> extra_options;  ///< more NVRTC options; part of the cache key
  KernelCache* cache = nullptr;  ///< null means KernelCache::global(); must outlive the compiler
};

class NvrtcCompiler {
 public:
  explicit NvrtcCompiler(NvrtcOptions options = {});

  /// NVRTC's version, "13.0".
  [[nodiscard]] static std::string version();
  /// The version, the library's path and its size (the toolchain in cache keys).
  [[nodiscard]] static std::string identity();
  /// The architectures NVRTC can compile for, ascending (e.g. 75, 80, ..., 120).
  [[nodiscard]] static std::vector<int> supported_archs();
  /// choose_arch(capability, supported_archs()).
  [[nodiscard]] static std::string arch_for_device(int capability);

  /// Compiles (or finds in the cache) source for arch ("sm_90": cubin bytes;
  /// "compute_90": PTX text). name: readable kernel name for file names.
  /// Throws CompileError with NVRTC's log when the source is rejected.
  [[nodiscard]] std::string compile(const std::string& source, const std::string& arch,
                                    const std::string& name = {}, CompileResult* info = nullptr);

  /// The cache key compile() uses.
  [[nodiscard]] CacheKey key(const std::string& source, const std::string& arch,
                             const std::string& name) const;
  /// The options passed to NVRTC for arch.
  [[nodiscard]] std::vector<std::string> options(const std::string& arch) const;
  [[nodiscard]] KernelCache& cache() const { return *cache_; }

 private:
  NvrtcOptions options_;
  KernelCache* cache_;
  std::mutex mutex_;                             // guards compiled_
  std::map<std::string, std::string> compiled_;  // by key digest
};

}  // namespace spdec::jit
