#include "codegen/jit/host_compiler.hpp"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <spdec/build_info.hpp>
#include <utility>

#include "codegen/jit/files.hpp"
#include "codegen/jit/hash.hpp"
#include "codegen/jit/process.hpp"
#include "lang/atomic_write.hpp"

namespace spdec::jit {
namespace {

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) {
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

// What -march=native would target here: the first processor's model name
// and feature flags from /proc/cpuinfo, hashed.
std::string cpu_identity() {
  const std::string info = detail::read_file("/proc/cpuinfo").value_or("");
  std::string model;
  std::string features;
  std::size_t begin = 0;
  while (begin < info.size() && (model.empty() || features.empty())) {
    std::size_t end = info.find('\n', begin);
    end = end == std::string::npos ? info.size() : end;
    const std::string line = info.substr(begin, end - begin);
    if (model.empty() && line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 1);
    } else if (features.empty() && line.rfind("flags", 0) == 0) {
      features = line;
    }
    begin = end + 1;
  }
  return "native:" + hex64(lang::fnv1a64(model + "\n" + features)) + ":" + model;
}

// `<cxx> --version`, asked once per process and compiler path.
std::string ask_identity(const std::string& compiler) {
  const detail::ProcessResult version = detail::run_process({compiler, "--version"}, {});
  if (version.exit_code != 0) {
    throw JitError("the host compiler " + compiler + " does not run (`" + compiler +
                   " --version` exited with " + std::to_string(version.exit_code) +
                   "): " + version.output);
  }
  std::error_code ec;
  const std::filesystem::path resolved = std::filesystem::canonical(compiler, ec);
  return compiler + " (" + (ec ? compiler : resolved.string()) + "): " + first_line(version.output);
}

// Names the compiler's executable as it is now: its resolved path, device,
// inode, size and modification time. Installing another compiler (or
// another version) under the same name changes it. Empty when it cannot be
// found.
std::string file_signature(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path resolved = std::filesystem::canonical(path, ec);
  struct stat info {};
  if (ec || ::stat(resolved.c_str(), &info) != 0) {
    return {};
  }
  return resolved.string() + " dev=" + std::to_string(info.st_dev) +
         " ino=" + std::to_string(info.st_ino) + " size=" + std::to_string(info.st_size) +
         " mtime=" + std::to_string(info.st_mtim.tv_sec) + "." +
         std::to_string(info.st_mtim.tv_nsec);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void write_source(const std::filesystem::path& path, const std::string& source) {
  if (const auto failure = lang::write_file_atomically(path, source)) {
    throw JitError("cannot write the kernel source: " + failure->message());
  }
}

// Kernels use OpenMP, so loading the first one pulls in the OpenMP runtime.
// Its worker threads keep running the runtime's code after a parallel region
// (they spin, then sleep), so it must never be unloaded with the last kernel
// that needed it: mark whichever runtime is loaded RTLD_NODELETE. The kernels
// themselves can still be unloaded.
void pin_openmp_runtime() {
  for (const char* runtime : {"libgomp.so.1", "libomp.so.5", "libomp.so", "libiomp5.so"}) {
    // RTLD_NOLOAD: only if already loaded; the reference taken is never dropped.
    (void)::dlopen(runtime, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  }
}

}  // namespace

// --- SharedLibrary --------------------------------------------------------------

std::shared_ptr<SharedLibrary> SharedLibrary::open(const std::filesystem::path& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    throw JitError("cannot load " + path.string() + ": " +
                   (why != nullptr ? why : "dlopen failed"));
  }
  pin_openmp_runtime();
  return std::shared_ptr<SharedLibrary>(new SharedLibrary(handle, path));
}

SharedLibrary::~SharedLibrary() { ::dlclose(handle_); }

void* SharedLibrary::symbol(const std::string& name) const {
  ::dlerror();  // clear any earlier error: a symbol's address may legitimately be null
  void* address = ::dlsym(handle_, name.c_str());
  if (const char* why = ::dlerror(); why != nullptr) {
    throw JitError("no symbol " + name + " in " + path_.string() + ": " + why);
  }
  return address;
}

// --- HostCompiler ---------------------------------------------------------------

HostCompiler::HostCompiler(HostCompilerOptions options)
    : compiler_(options.compiler.empty() ? std::string(build_info::host_cxx)
                                         : std::move(options.compiler)),
      flags_(std::move(options.flags)),
      cache_(options.cache != nullptr ? options.cache : &KernelCache::global()) {
  flags_.insert(flags_.end(), options.extra_flags.begin(), options.extra_flags.end());
  if (options.native) {
    flags_.emplace_back("-march=native");
    arch_ = cpu_identity();
  }
}

const std::string& HostCompiler::identity() const {
  static std::mutex mutex;
  static std::map<std::string, std::string> known;  // by compiler path
  const std::lock_guard lock(mutex);
  auto it = known.find(compiler_);
  if (it == known.end()) {
    it = known.emplace(compiler_, cached_identity()).first;
  }
  return it->second;  // map nodes are stable and never erased
}

std::string HostCompiler::cached_identity() const {
  // Running `clang++ --version` alone takes ~50 ms, as long as a whole cache
  // hit should. Its answer is cached too, keyed by the compiler file itself.
  const std::string signature = file_signature(compiler_);
  if (signature.empty()) {
    return ask_identity(compiler_);  // it will not run either; let that say why
  }
  const CacheKey key{"compiler", signature, "identity", "", "", ""};
  if (std::optional<std::string> identity = cache_->load(key)) {
    return *identity;
  }
  std::string identity = ask_identity(compiler_);
  cache_->store(key, identity);
  return identity;
}

CacheKey HostCompiler::key(const std::string& source, const std::string& name) const {
  return CacheKey{name, content_hash(source), "cpu", arch_, identity(), join(flags_)};
}

std::shared_ptr<SharedLibrary> HostCompiler::compile(const std::string& source,
                                                     const std::string& name, CompileResult* info) {
  const auto start = std::chrono::steady_clock::now();
  const CacheKey cache_key = key(source, name);
  const std::string digest = cache_key.digest();
  CompileResult result;
  result.key = cache_key.stem();
  Loaded loaded;
  {
    const std::lock_guard lock(mutex_);
    if (const auto it = loaded_.find(digest); it != loaded_.end()) {
      loaded = it->second;
      result.cache_hit = result.memory_hit = true;
    }
  }
  if (!loaded.library) {
    if (const auto path = cache_->find_shared_object(cache_key)) {
      loaded = {SharedLibrary::open(*path), path->string()};
      result.cache_hit = true;
    } else {
      loaded = build(source, cache_key);
    }
    const std::lock_guard lock(mutex_);
    loaded = loaded_.emplace(digest, loaded).first->second;  // the first one in wins
  }
  result.artifact_path = loaded.artifact;
  result.seconds = seconds_since(start);
  if (info != nullptr) {
    *info = std::move(result);
  }
  return loaded.library;
}

HostCompiler::Loaded HostCompiler::build(const std::string& source, const CacheKey& key) const {
  std::string error;
  // Inside the cache a hidden temporary; elsewhere a name that says whose it is.
  const auto make_dir = [&] {
    const std::string pid = std::to_string(::getpid());
    const std::string prefix = cache_->writable() ? ".tmp-" + pid + "-" : "spdec-jit-" + pid + "-";
    return detail::TempDir::create(cache_->work_directory_parent(), prefix, &error);
  };
  std::optional<detail::TempDir> dir = make_dir();
  if (!dir && cache_->writable()) {
    cache_->report_unwritable(error);
    dir = make_dir();
  }
  if (!dir) {
    throw JitError("cannot compile a kernel: " + error);
  }
  write_source(dir->path() / "kernel.cpp", source);

  // Relative names in a private directory: the output does not depend on
  // where it was built, so concurrent builds of one kernel are identical.
  std::vector<std::string> argv{compiler_};
  argv.insert(argv.end(), flags_.begin(), flags_.end());
  argv.insert(argv.end(), {"kernel.cpp", "-o", "kernel.so"});
  const detail::ProcessResult run = detail::run_process(argv, dir->path());
  if (run.exit_code != 0) {
    throw CompileError("the host compiler failed (exit code " + std::to_string(run.exit_code) +
                           ") on kernel " + key.stem() + ": " + detail::command_line(argv),
                       run.output, source);
  }
  const std::filesystem::path built = dir->path() / "kernel.so";
  const std::optional<std::filesystem::path> cached = cache_->store_shared_object(key, built);
  // Loaded before `dir` is removed; an uncached .so is unlinked but stays mapped.
  return {SharedLibrary::open(cached.value_or(built)), cached ? cached->string() : std::string()};
}

}  // namespace spdec::jit
