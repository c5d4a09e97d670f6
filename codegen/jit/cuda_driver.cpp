#include "codegen/jit/cuda_driver.hpp"

#include <dlfcn.h>

#include <array>
#include <mutex>
#include <utility>

#if defined(SPDEC_WITH_CUDA)
#include <cuda.h>
#endif

namespace spdec::jit {
namespace {

// The few driver types and constants used here, declared by hand so that this
// file builds without the CUDA toolkit (checked against <cuda.h> when present).
using Result = int;  // CUresult
using Device = int;  // CUdevice
using Context = void*;
using Module = void*;
using Function = void*;
using Stream = void*;
constexpr Result kSuccess = 0;
constexpr int kAttributeCapabilityMajor = 75;
constexpr int kAttributeCapabilityMinor = 76;

#if defined(SPDEC_WITH_CUDA)
static_assert(CUDA_SUCCESS == kSuccess);
static_assert(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR == kAttributeCapabilityMajor);
static_assert(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR == kAttributeCapabilityMinor);
static_assert(sizeof(CUdevice) == sizeof(Device) && sizeof(CUresult) == sizeof(Result));
#endif

// The entry points, resolved from libcuda.so.1. The names are the
// unversioned ones: none of these functions has a _v2 variant.
struct Driver {
  Result (*init)(unsigned) = nullptr;
  Result (*device_get)(Device*, int) = nullptr;
  Result (*device_get_attribute)(int*, int, Device) = nullptr;
  Result (*ctx_get_current)(Context*) = nullptr;
  Result (*ctx_set_current)(Context) = nullptr;
  Result (*ctx_get_device)(Device*) = nullptr;
  Result (*primary_ctx_retain)(Context*, Device) = nullptr;
  Result (*module_load_data)(Module*, const void*) = nullptr;
  Result (*module_get_function)(Function*, Module, const char*) = nullptr;
  Result (*module_unload)(Module) = nullptr;
  Result (*launch_kernel)(Function, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                          unsigned, Stream, void**, void**) = nullptr;
  Result (*get_error_string)(Result, const char**) = nullptr;
  Result (*get_error_name)(Result, const char**) = nullptr;
  std::string error;  // empty when every entry point was found and cuInit succeeded
};

template <typename Fn>
bool resolve(void* library, const char* name, Fn*& out, std::string& error) {
  out = reinterpret_cast<Fn*>(::dlsym(library, name));  // NOLINT: dlsym's documented use
  if (out == nullptr && error.empty()) {
    error = std::string("the CUDA driver libcuda.so.1 has no ") + name;
  }
  return out != nullptr;
}

std::string describe(const Driver& driver, Result result) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (driver.get_error_name != nullptr) {
    driver.get_error_name(result, &name);
  }
  if (driver.get_error_string != nullptr) {
    driver.get_error_string(result, &text);
  }
  return std::string(name != nullptr ? name : "CUDA error " + std::to_string(result)) +
         (text != nullptr ? std::string(": ") + text : std::string());
}

Driver load_driver() {
  Driver d;
  // Never closed: unloading the driver while contexts may live is unsafe.
  void* library = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    d.error = "no CUDA driver (libcuda.so.1 not found)";
    return d;
  }
  std::string& e = d.error;
  resolve(library, "cuGetErrorString", d.get_error_string, e);
  resolve(library, "cuGetErrorName", d.get_error_name, e);
  resolve(library, "cuInit", d.init, e);
  resolve(library, "cuDeviceGet", d.device_get, e);
  resolve(library, "cuDeviceGetAttribute", d.device_get_attribute, e);
  resolve(library, "cuCtxGetCurrent", d.ctx_get_current, e);
  resolve(library, "cuCtxSetCurrent", d.ctx_set_current, e);
  resolve(library, "cuCtxGetDevice", d.ctx_get_device, e);
  resolve(library, "cuDevicePrimaryCtxRetain", d.primary_ctx_retain, e);
  resolve(library, "cuModuleLoadData", d.module_load_data, e);
  resolve(library, "cuModuleGetFunction", d.module_get_function, e);
  resolve(library, "cuModuleUnload", d.module_unload, e);
  resolve(library, "cuLaunchKernel", d.launch_kernel, e);
  if (e.empty()) {
    if (const Result r = d.init(0); r != kSuccess) {
      e = "the CUDA driver is installed but cuInit failed: " + describe(d, r);
    }
  }
  return d;
}

const Driver& driver_state() {
  static const Driver driver = load_driver();
  return driver;
}

// The driver, or a JitError saying why there is none.
const Driver& driver() {
  const Driver& d = driver_state();
  if (!d.error.empty()) {
    throw JitError(d.error);
  }
  return d;
}

void check(Result result, const char* what) {
  if (result != kSuccess) {
    throw JitError(std::string(what) + " failed: " + describe(driver(), result));
  }
}

Context current_context() {
  Context context = nullptr;
  check(driver().ctx_get_current(&context), "cuCtxGetCurrent");
  return context;
}

// The current context, else device 0's primary context (retained once per
// process, never released: others may share it) made current here.
Context current_or_primary_context() {
  if (Context context = current_context()) {
    return context;
  }
  static std::mutex mutex;
  static Context primary = nullptr;
  const std::lock_guard lock(mutex);
  if (primary == nullptr) {
    Device device = 0;
    check(driver().device_get(&device, 0), "cuDeviceGet");
    check(driver().primary_ctx_retain(&primary, device), "cuDevicePrimaryCtxRetain");
  }
  check(driver().ctx_set_current(primary), "cuCtxSetCurrent");
  return primary;
}

int capability_of(Device device) {
  int major = 0;
  int minor = 0;
  check(driver().device_get_attribute(&major, kAttributeCapabilityMajor, device),
        "cuDeviceGetAttribute");
  check(driver().device_get_attribute(&minor, kAttributeCapabilityMinor, device),
        "cuDeviceGetAttribute");
  return major * 10 + minor;
}

}  // namespace

bool cuda_driver_available() { return driver_state().error.empty(); }

std::string cuda_driver_error() { return driver_state().error; }

int device_compute_capability() {
  Device device = 0;
  if (current_context() != nullptr) {
    check(driver().ctx_get_device(&device), "cuCtxGetDevice");
  } else {
    check(driver().device_get(&device, 0), "cuDeviceGet");
  }
  return capability_of(device);
}

int device_compute_capability(int ordinal) {
  Device device = 0;
  check(driver().device_get(&device, ordinal), "cuDeviceGet");
  return capability_of(device);
}

CudaModule CudaModule::load(std::string_view image) {
  Context context = current_or_primary_context();
  const std::string terminated(image);  // PTX must end with a NUL
  Module module = nullptr;
  check(driver().module_load_data(&module, terminated.c_str()), "cuModuleLoadData");
  return {module, context};
}

CudaModule::CudaModule(CudaModule&& other) noexcept
    : module_(std::exchange(other.module_, nullptr)),
      context_(std::exchange(other.context_, nullptr)) {}

CudaModule& CudaModule::operator=(CudaModule&& other) noexcept {
  if (this != &other) {
    unload();
    module_ = std::exchange(other.module_, nullptr);
    context_ = std::exchange(other.context_, nullptr);
  }
  return *this;
}

CudaModule::~CudaModule() { unload(); }

void CudaModule::unload() noexcept {
  if (module_ != nullptr) {
    // Errors are ignored: at exit the context may already be gone.
    driver_state().module_unload(std::exchange(module_, nullptr));
  }
}

CudaFunction CudaModule::function(const std::string& name) const {
  Function function = nullptr;
  check(driver().module_get_function(&function, module_, name.c_str()),
        ("cuModuleGetFunction(" + name + ")").c_str());
  return function;
}

void CudaModule::launch(CudaFunction function, Dim3 grid, Dim3 block, unsigned shared_bytes,
                        void* stream, void** args) const {
  Context current = current_context();
  if (current == nullptr) {
    check(driver().ctx_set_current(context_), "cuCtxSetCurrent");
  } else if (current != context_) {
    throw JitError("CudaModule::launch: another CUDA context is current on this thread");
  }
  check(driver().launch_kernel(function, grid.x, grid.y, grid.z, block.x, block.y, block.z,
                               shared_bytes, stream, args, nullptr),
        "cuLaunchKernel");
}

}  // namespace spdec::jit
