#include "codegen/jit/nvrtc.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <spdec/build_info.hpp>
#include <system_error>
#include <utility>

#include "codegen/jit/hash.hpp"

#if defined(SPDEC_WITH_CUDA)
#include <nvrtc.h>
#endif

namespace spdec::jit {
namespace {

// "sm_86" / "compute_90a" -> 86 / 90; -1 when arch is not of that form.
int arch_number(const std::string& arch) {
  const std::size_t underscore = arch.find('_');
  if (underscore == std::string::npos) {
    return -1;
  }
  const std::string prefix = arch.substr(0, underscore);
  std::string digits = arch.substr(underscore + 1);
  if (!digits.empty() && digits.back() >= 'a' && digits.back() <= 'z') {
    digits.pop_back();  // "a"/"f" feature-set suffixes
  }
  if ((prefix != "sm" && prefix != "compute") || digits.empty() || digits.size() > 4 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::stoi(digits);
}

#if defined(SPDEC_WITH_CUDA)

void check(nvrtcResult result, const char* what) {
  if (result != NVRTC_SUCCESS) {
    throw JitError(std::string("NVRTC: ") + what + " failed: " + nvrtcGetErrorString(result));
  }
}

// An NVRTC program, destroyed on scope exit.
class Program {
 public:
  explicit Program(const std::string& source) {
    check(nvrtcCreateProgram(&program_, source.c_str(), "kernel.cu", 0, nullptr, nullptr),
          "nvrtcCreateProgram");
  }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  Program(Program&&) = delete;
  Program& operator=(Program&&) = delete;
  ~Program() { nvrtcDestroyProgram(&program_); }

  [[nodiscard]] nvrtcProgram get() const { return program_; }

  [[nodiscard]] std::string log() const {
    std::size_t size = 0;
    if (nvrtcGetProgramLogSize(program_, &size) != NVRTC_SUCCESS || size == 0) {
      return {};
    }
    std::string text(size, '\0');
    if (nvrtcGetProgramLog(program_, text.data()) != NVRTC_SUCCESS) {
      return {};
    }
    text.resize(text.find('\0'));
    return text;
  }

  // PTX text (without NVRTC's trailing NUL) or cubin bytes.
  [[nodiscard]] std::string output(bool cubin) const {
    std::size_t size = 0;
    std::string bytes;
    if (cubin) {
      check(nvrtcGetCUBINSize(program_, &size), "nvrtcGetCUBINSize");
      bytes.resize(size);
      check(nvrtcGetCUBIN(program_, bytes.data()), "nvrtcGetCUBIN");
    } else {
      check(nvrtcGetPTXSize(program_, &size), "nvrtcGetPTXSize");
      bytes.resize(size);
      check(nvrtcGetPTX(program_, bytes.data()), "nvrtcGetPTX");
      while (!bytes.empty() && bytes.back() == '\0') {
        bytes.pop_back();
      }
    }
    return bytes;
  }

 private:
  nvrtcProgram program_ = nullptr;
};

std::string nvrtc_version() {
  int major = 0;
  int minor = 0;
  check(nvrtcVersion(&major, &minor), "nvrtcVersion");
  return std::to_string(major) + "." + std::to_string(minor);
}

// The version plus the library file and its size: a patch release of NVRTC
// (same major.minor) is a different file.
std::string nvrtc_identity() {
  std::string identity = "nvrtc " + nvrtc_version();
  Dl_info library{};
  if (::dladdr(reinterpret_cast<void*>(&nvrtcVersion), &library) != 0 &&  // NOLINT: dladdr's use
      library.dli_fname != nullptr) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(library.dli_fname, ec);
    identity += std::string(" (") + library.dli_fname +
                (ec ? std::string() : ", " + std::to_string(size) + " bytes") + ")";
  }
  return identity;
}

std::vector<int> nvrtc_archs() {
  int count = 0;
  check(nvrtcGetNumSupportedArchs(&count), "nvrtcGetNumSupportedArchs");
  std::vector<int> archs(static_cast<std::size_t>(std::max(count, 0)));
  check(nvrtcGetSupportedArchs(archs.data()), "nvrtcGetSupportedArchs");
  std::sort(archs.begin(), archs.end());
  return archs;
}

std::string run_nvrtc(const std::string& source, const std::string& arch,
                      const std::vector<std::string>& options, const std::string& stem) {
  const Program program(source);
  std::vector<const char*> argv;
  argv.reserve(options.size());
  for (const std::string& option : options) {
    argv.push_back(option.c_str());
  }
  const nvrtcResult result =
      nvrtcCompileProgram(program.get(), static_cast<int>(argv.size()), argv.data());
  if (result != NVRTC_SUCCESS) {
    throw CompileError(std::string("NVRTC failed (") + nvrtcGetErrorString(result) +
                           ") on kernel " + stem + " for " + arch,
                       program.log(), source);
  }
  return program.output(arch.rfind("sm_", 0) == 0);
}

#else  // !SPDEC_WITH_CUDA

[[noreturn]] void not_built() {
  throw JitError(
      "CUDA backend not built: spdec was configured without NVRTC (see the 'spdec: CUDA "
      "backend' line of CMake's output)");
}

std::string nvrtc_version() { not_built(); }
std::string nvrtc_identity() { not_built(); }
std::vector<int> nvrtc_archs() { not_built(); }
std::string run_nvrtc(const std::string& /*source*/, const std::string& /*arch*/,
                      const std::vector<std::string>& /*options*/, const std::string& /*stem*/) {
  not_built();
}

#endif

}  // namespace

bool nvrtc_built() { return build_info::have_cuda; }

std::string choose_arch(int capability, const std::vector<int>& supported) {
  int same_major = -1;
  int older = -1;
  for (const int arch : supported) {
    if (arch <= capability) {
      older = std::max(older, arch);
      if (arch / 10 == capability / 10) {
        same_major = std::max(same_major, arch);
      }
    }
  }
  if (same_major >= 0) {
    return "sm_" + std::to_string(same_major);
  }
  if (older >= 0) {
    return "compute_" + std::to_string(older);
  }
  throw JitError("no architecture NVRTC supports runs on a device of compute capability " +
                 std::to_string(capability / 10) + "." + std::to_string(capability % 10) +
                 (supported.empty()
                      ? std::string()
                      : " (the oldest it supports is " + std::to_string(supported.front() / 10) +
                            "." + std::to_string(supported.front() % 10) + ")"));
}

NvrtcCompiler::NvrtcCompiler(NvrtcOptions options)
    : options_(std::move(options)),
      cache_(options_.cache != nullptr ? options_.cache : &KernelCache::global()) {}

std::string NvrtcCompiler::version() {
  static const std::string version = nvrtc_version();
  return version;
}

std::string NvrtcCompiler::identity() {
  static const std::string identity = nvrtc_identity();
  return identity;
}

std::vector<int> NvrtcCompiler::supported_archs() {
  static const std::vector<int> archs = nvrtc_archs();
  return archs;
}

std::string NvrtcCompiler::arch_for_device(int capability) {
  return choose_arch(capability, supported_archs());
}

std::vector<std::string> NvrtcCompiler::options(const std::string& arch) const {
  std::vector<std::string> out{"--std=c++17", "-default-device", "--gpu-architecture=" + arch};
  if (options_.fast_math) {
    out.emplace_back("--use_fast_math");
  }
  if (options_.include_cuda_headers) {
    out.emplace_back("-I" + std::string(build_info::cuda_include_dir));
  }
  out.insert(out.end(), options_.extra_options.begin(), options_.extra_options.end());
  return out;
}

CacheKey NvrtcCompiler::key(const std::string& source, const std::string& arch,
                            const std::string& name) const {
  std::string flags;
  for (const std::string& option : options(arch)) {
    flags += (flags.empty() ? "" : " ") + option;
  }
  return CacheKey{name, content_hash(source), "cuda", arch, identity(), flags};
}

std::string NvrtcCompiler::compile(const std::string& source, const std::string& arch,
                                   const std::string& name, CompileResult* info) {
  const auto start = std::chrono::steady_clock::now();
  if (arch_number(arch) < 0) {
    throw JitError("not a CUDA architecture: '" + arch + "' (expected sm_XY or compute_XY)");
  }
  const CacheKey cache_key = key(source, arch, name);
  const std::string digest = cache_key.digest();
  CompileResult result;
  result.key = cache_key.stem();
  std::optional<std::string> image;
  {
    const std::lock_guard lock(mutex_);
    if (const auto it = compiled_.find(digest); it != compiled_.end()) {
      image = it->second;
      result.cache_hit = result.memory_hit = true;
    }
  }
  if (!image) {
    image = cache_->load(cache_key);
    result.cache_hit = image.has_value();
    if (!image) {
      image = run_nvrtc(source, arch, options(arch), result.key);
      cache_->store(cache_key, *image);
    }
    const std::lock_guard lock(mutex_);
    compiled_.emplace(digest, *image);
  }
  if (cache_->writable()) {
    result.artifact_path = cache_->entry_path(cache_key).string();
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (info != nullptr) {
    *info = std::move(result);
  }
  return std::move(*image);
}

}  // namespace spdec::jit
