// The host JIT: C++ source text -> the host compiler -> a shared object ->
// dlopen -> symbols.
//
// The compiler is the one CMake found for spdec itself (SPDEC_HOST_CXX in
// <spdec/build_info.hpp>), run as
//   <cxx> -O3 -fopenmp -fPIC -shared -std=c++17 [extra flags] kernel.cpp -o kernel.so
// in a private directory. No -march=native by default: cached shared objects
// must run on any machine that shares the cache directory (the opt-in
// `native` keys the cache by the CPU as well).
//
// Every compile goes through the KernelCache (cache.hpp documents the
// protocol): the key holds a hash of the source text, the compiler's
// identity (path and `--version`, see identity()) and the flags. A
// HostCompiler also remembers what it loaded, so compiling the same source
// again returns the same SharedLibrary without touching the disk; those
// libraries stay loaded as long as the HostCompiler or a caller holds them.
//
//   spdec::jit::HostCompiler compiler;
//   spdec::jit::CompileResult info;
//   auto lib = compiler.compile(source, "perona_malik", &info);
//   auto* step = lib->function<void(float*, int)>("spdec_step");
//
// A source the compiler rejects throws CompileError with the compiler's
// messages in log() and the source in source() (print it with
// numbered_source). Thread-safe.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "codegen/jit/cache.hpp"
#include "codegen/jit/error.hpp"

namespace spdec::jit {

/// A dlopen'ed shared object (RTLD_NOW | RTLD_LOCAL), closed on destruction:
/// keep it alive as long as any symbol taken from it is used. The OpenMP
/// runtime a kernel brings in stays loaded for good (its idle worker threads
/// still run its code).
class SharedLibrary {
 public:
  /// Throws JitError with dlerror()'s message when the file cannot be loaded.
  [[nodiscard]] static std::shared_ptr<SharedLibrary> open(const std::filesystem::path& path);

  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;
  SharedLibrary(SharedLibrary&&) = delete;
  SharedLibrary& operator=(SharedLibrary&&) = delete;
  ~SharedLibrary();

  /// The address of an exported symbol; throws JitError when there is none.
  [[nodiscard]] void* symbol(const std::string& name) const;

  /// symbol() as a function pointer: lib.function<float(float)>("f").
  template <typename Signature>
  [[nodiscard]] Signature* function(const std::string& name) const {
    return reinterpret_cast<Signature*>(symbol(name));  // NOLINT: dlsym's documented use
  }

  /// The file it was loaded from (it may have been removed since).
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  SharedLibrary(void* handle, std::filesystem::path path)
      : handle_(handle), path_(std::move(path)) {}

  void* handle_;
  std::filesystem::path path_;
};

struct HostCompilerOptions {
  /// The compiler; empty means the one spdec was built with (SPDEC_HOST_CXX).
  std::string compiler;
  /// The base flags. Generated code relies on OpenMP and C++17.
  std::vector<std::string> flags = {"-O3", "-fopenmp", "-fPIC", "-shared", "-std=c++17"};
  /// More flags after those (e.g. "-I<dir>"); part of the cache key.
  std::vector<std::string> extra_flags;
  /// Adds -march=native and keys the cache by this CPU's model and features.
  bool native = false;
  /// The cache to use; null means KernelCache::global(). Must outlive the compiler.
  KernelCache* cache = nullptr;
};

class HostCompiler {
 public:
  explicit HostCompiler(HostCompilerOptions options = {});

  /// Compiles (or finds in the cache) a shared object from C++ source and
  /// loads it. name: a readable kernel name for file names and messages (the
  /// key always holds a hash of the source itself). Throws CompileError when
  /// the compiler rejects the source, JitError for anything else.
  [[nodiscard]] std::shared_ptr<SharedLibrary> compile(const std::string& source,
                                                       const std::string& name,
                                                       CompileResult* info = nullptr);

  /// The cache key compile() uses for this source and name.
  [[nodiscard]] CacheKey key(const std::string& source, const std::string& name) const;

  /// "<path> (<resolved path>): <first line of --version>". The compiler is
  /// asked at most once per process and path, and the answer is cached on
  /// disk, keyed by the compiler file's resolved path, inode, size and
  /// modification time. Throws JitError when the compiler cannot be run.
  [[nodiscard]] const std::string& identity() const;

  [[nodiscard]] const std::string& compiler() const { return compiler_; }
  /// All flags in the order they are passed.
  [[nodiscard]] const std::vector<std::string>& flags() const { return flags_; }
  [[nodiscard]] KernelCache& cache() const { return *cache_; }

 private:
  [[nodiscard]] std::string cached_identity() const;

  struct Loaded {
    std::shared_ptr<SharedLibrary> library;
    std::string artifact;  // the cache file, or empty when it was built outside the cache
  };

  [[nodiscard]] Loaded build(const std::string& source, const CacheKey& key) const;

  std::string compiler_;
  std::vector<std::string> flags_;
  std::string arch_;  // "" or the CPU identity for -march=native
  KernelCache* cache_;
  std::mutex mutex_;                      // guards loaded_
  std::map<std::string, Loaded> loaded_;  // by key digest
};

}  // namespace spdec::jit
