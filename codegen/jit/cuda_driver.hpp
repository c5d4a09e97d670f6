// The CUDA driver API, loaded lazily: libcuda.so.1 is dlopen'ed on first use,
// never linked, so spdec starts (and runs on the CPU) on machines without a
// GPU driver. There every call below reports a clear JitError
// ("no CUDA driver (libcuda.so.1 not found)") instead of crashing.
//
// Contexts: a process that uses LibTorch already has a current context (the
// device's primary context); a module is loaded into the current context
// when there is one, else into device 0's primary context, which is retained
// (once, for the life of the process) and made current on this thread.
// Launches run in the module's context: it is made current on a thread that
// has none; a thread with another current context gets a JitError.
#pragma once

#include <string>
#include <string_view>

#include "codegen/jit/error.hpp"

namespace spdec::jit {

/// Loads and initialises the driver on the first call (thread-safe); false
/// when there is none or cuInit failed (see cuda_driver_error()).
[[nodiscard]] bool cuda_driver_available();
/// Why the driver is not available; empty when it is.
[[nodiscard]] std::string cuda_driver_error();

/// major * 10 + minor (e.g. 90) of the current context's device, or of
/// device 0 when no context is current. Throws JitError without a driver.
[[nodiscard]] int device_compute_capability();
/// The same for the device with this ordinal.
[[nodiscard]] int device_compute_capability(int ordinal);

struct Dim3 {
  unsigned x = 1;
  unsigned y = 1;
  unsigned z = 1;
};

/// A CUfunction; valid as long as its CudaModule.
using CudaFunction = void*;

/// A loaded CUDA module (RAII: cuModuleUnload on destruction).
class CudaModule {
 public:
  /// Loads PTX text or a cubin (cuModuleLoadData; the driver compiles PTX).
  /// Throws JitError with the driver's message.
  [[nodiscard]] static CudaModule load(std::string_view image);

  CudaModule(const CudaModule&) = delete;
  CudaModule& operator=(const CudaModule&) = delete;
  CudaModule(CudaModule&& other) noexcept;
  CudaModule& operator=(CudaModule&& other) noexcept;
  ~CudaModule();

  /// The kernel named `name` (an extern "C" __global__ function).
  [[nodiscard]] CudaFunction function(const std::string& name) const;

  /// cuLaunchKernel: args holds one pointer per kernel parameter, each
  /// pointing at the argument's value; stream is a CUstream (nullptr: the
  /// legacy default stream). Asynchronous; throws JitError when the launch
  /// is rejected.
  void launch(CudaFunction function, Dim3 grid, Dim3 block, unsigned shared_bytes, void* stream,
              void** args) const;

 private:
  CudaModule(void* module, void* context) : module_(module), context_(context) {}
  void unload() noexcept;

  void* module_ = nullptr;   // CUmodule
  void* context_ = nullptr;  // CUcontext it was loaded in
};

}  // namespace spdec::jit
