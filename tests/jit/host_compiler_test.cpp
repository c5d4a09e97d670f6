// The host JIT: compile and call, memory / disk hits, a fresh process hitting
// the cache quickly, corrupt entries, an unwritable directory, concurrent
// compiles (processes and threads), compiler errors.
#include "codegen/jit/host_compiler.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "jit_test_util.hpp"

namespace jit = spdec::jit;
using jit::test::kernel_source;
using jit::test::run_probe;
using jit::test::scratch_dir;

namespace {

// A second compile in a fresh process must be quicker than this (a dlopen
// and a hash of a small file: a few milliseconds).
constexpr double kMaxHitSeconds = 0.050;

jit::HostCompilerOptions with_cache(jit::KernelCache& cache) {
  jit::HostCompilerOptions options;
  options.cache = &cache;
  return options;
}

// Flips one bit of a file in place.
void flip_byte(const std::filesystem::path& path, std::size_t offset) {
  std::string bytes = jit::test::read_text(path);
  REQUIRE(offset < bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x10);
  jit::test::write_text(path, bytes);
}

// Runs body in a child process once the parent closes the gate (a pipe);
// the child exits with 0 when body returned true, 1 when false, 2 when it
// threw.
template <typename Body>
pid_t fork_child(const std::array<int, 2>& gate, Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(gate[1]);  // else the child's own write end would keep the pipe open
    char byte = 0;
    while (::read(gate[0], &byte, 1) < 0) {  // end of file: the gate is open
    }
    int status = 1;
    try {
      status = body() ? 0 : 1;
    } catch (const std::exception& error) {
      (void)::write(2, error.what(), std::char_traits<char>::length(error.what()));
      status = 2;
    }
    ::_exit(status);
  }
  return pid;
}

int wait_child(pid_t pid) {
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("host JIT: compile extern C float f(float) and call it", "[jit][host]") {
  const auto dir = scratch_dir();
  jit::KernelCache cache(dir.path());
  jit::HostCompiler compiler(with_cache(cache));
  CHECK_THAT(compiler.identity(), Catch::Contains(compiler.compiler()));

  jit::CompileResult info;
  const auto library = compiler.compile(kernel_source(1), "basic", &info);
  CHECK_FALSE(info.cache_hit);
  CHECK(info.seconds > 0.0);
  CHECK(info.key == compiler.key(kernel_source(1), "basic").stem());
  CHECK(std::filesystem::path(info.artifact_path).parent_path() == dir.path());
  CHECK(library->function<float(float)>("f")(3.0F) == 7.0F);
  CHECK_THROWS_WITH(library->symbol("missing"), Catch::Contains("no symbol missing"));

  // Again in this process: the same library, from memory.
  jit::CompileResult again;
  CHECK(compiler.compile(kernel_source(1), "basic", &again) == library);
  CHECK(again.cache_hit);
  CHECK(again.memory_hit);
  CHECK(again.artifact_path == info.artifact_path);

  // A new compiler in this process finds it on disk.
  jit::HostCompiler other(with_cache(cache));
  jit::CompileResult disk;
  const auto reloaded = other.compile(kernel_source(1), "basic", &disk);
  CHECK(disk.cache_hit);
  CHECK_FALSE(disk.memory_hit);
  CHECK(reloaded->function<float(float)>("f")(3.0F) == 7.0F);

  const auto names = jit::test::file_names(dir.path());
  CHECK(jit::test::count_ending(names, ".so") == 1);
  CHECK(jit::test::count_ending(names, ".sum") == 1);
  CHECK(jit::test::count_temporaries(names) == 0);
}

TEST_CASE("host JIT: a miss, then a hit in a fresh process in milliseconds", "[jit][host]") {
  const auto dir = scratch_dir();
  const std::string cache_dir = (dir.path() / "cache").string();
  const jit::test::ProbeRun first = run_probe({"--cache-dir", cache_dir});
  CHECK_FALSE(first.hit);
  CHECK(first.value == 3.0);
  const jit::test::ProbeRun second = run_probe({"--cache-dir", cache_dir});
  WARN("compile: " << first.seconds << " s; cache hit in a fresh process: " << second.seconds
                   << " s");
  CHECK(second.hit);
  CHECK_FALSE(second.memory);
  CHECK(second.value == 3.0);
  CHECK(second.seconds < kMaxHitSeconds);
}

TEST_CASE("host JIT: a corrupt cache entry is a miss and is rebuilt", "[jit][host]") {
  const auto dir = scratch_dir();
  const std::filesystem::path cache_dir = dir.path() / "cache";
  const std::filesystem::path source_file = dir.path() / "kernel.cpp";
  jit::test::write_text(source_file, kernel_source(5));
  const std::vector<std::string> probe{
      "--cache-dir", cache_dir.string(), "--source", source_file.string(), "--call",
      "f",           "--name",           "corrupt"};
  // Everything runs in child processes, so this one never maps the files it damages.
  REQUIRE_FALSE(run_probe(probe).hit);

  jit::KernelCache cache(cache_dir);
  const jit::HostCompiler compiler(with_cache(cache));
  const jit::CacheKey key = compiler.key(kernel_source(5), "corrupt");
  const auto object = cache.find_shared_object(key);
  REQUIRE(object.has_value());
  const std::string good_object = jit::test::read_text(*object);
  const std::string good_sidecar = jit::test::read_text(cache.sidecar_path(key));

  SECTION("a byte of the shared object flipped") { flip_byte(*object, good_object.size() / 2); }
  SECTION("the shared object truncated") {
    std::filesystem::resize_file(*object, good_object.size() / 3);
  }
  SECTION("a byte of the sidecar's checksum flipped") { flip_byte(cache.sidecar_path(key), 26); }
  SECTION("the sidecar truncated") { std::filesystem::resize_file(cache.sidecar_path(key), 10); }
  CHECK_FALSE(cache.find_shared_object(key).has_value());
  const jit::test::ProbeRun rebuilt = run_probe(probe);
  CHECK_FALSE(rebuilt.hit);
  CHECK(rebuilt.value == 7.0);
  // Rebuilt in place: the same (reproducible) bytes under the same names.
  CHECK(cache.find_shared_object(key) == object);
  CHECK(jit::test::read_text(*object) == good_object);
  CHECK(jit::test::read_text(cache.sidecar_path(key)) == good_sidecar);
  CHECK(run_probe(probe).hit);
}

TEST_CASE("host JIT: a missing part of an entry is a miss", "[jit][host]") {
  const auto dir = scratch_dir();
  jit::KernelCache cache(dir.path());
  jit::HostCompiler compiler(with_cache(cache));
  jit::CompileResult info;
  (void)compiler.compile(kernel_source(6), "parts", &info);
  const jit::CacheKey key = compiler.key(kernel_source(6), "parts");
  REQUIRE(cache.find_shared_object(key) == std::filesystem::path(info.artifact_path));
  const std::string sidecar = jit::test::read_text(cache.sidecar_path(key));
  std::filesystem::rename(info.artifact_path, dir.path() / "elsewhere.so");
  CHECK_FALSE(cache.find_shared_object(key).has_value());
  std::filesystem::rename(dir.path() / "elsewhere.so", info.artifact_path);
  CHECK(cache.find_shared_object(key).has_value());
  std::filesystem::remove(cache.sidecar_path(key));
  CHECK_FALSE(cache.find_shared_object(key).has_value());
  // A sidecar of another key does not vouch for this one.
  jit::CacheKey other = key;
  other.flags += " -DX";
  jit::test::write_text(cache.sidecar_path(other), sidecar);
  CHECK_FALSE(cache.find_shared_object(other).has_value());
}

TEST_CASE("host JIT: an unwritable cache directory warns once and still works", "[jit][host]") {
  const auto dir = scratch_dir();
  const std::filesystem::path unwritable = jit::test::unwritable_directory(dir.path());
  std::vector<std::string> warnings;
  jit::KernelCache cache(unwritable, [&](const std::string& m) { warnings.push_back(m); });
  jit::HostCompiler compiler(with_cache(cache));
  jit::CompileResult info;
  const auto library = compiler.compile(kernel_source(8), "unwritable", &info);
  CHECK_FALSE(info.cache_hit);
  CHECK(info.artifact_path.empty());
  CHECK(library->function<float(float)>("f")(1.0F) == 10.0F);
  CHECK(compiler.compile(kernel_source(8), "unwritable") == library);
  cache.store(compiler.key(kernel_source(8), "x"), "bytes");
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains(unwritable.string()));
}

TEST_CASE("host JIT: two processes compiling the same kernel at once both succeed", "[jit][host]") {
  const auto dir = scratch_dir();
  const std::string source = kernel_source(11);
  std::array<int, 2> gate{};
  REQUIRE(::pipe(gate.data()) == 0);
  std::vector<pid_t> children;
  children.reserve(2);
  for (int i = 0; i < 2; ++i) {
    children.push_back(fork_child(gate, [&] {
      jit::KernelCache cache(dir.path());
      jit::HostCompiler compiler(with_cache(cache));
      const auto library = compiler.compile(source, "race");
      return library->function<float(float)>("f")(1.0F) == 13.0F;
    }));
  }
  ::close(gate[0]);
  ::close(gate[1]);  // both children start now
  for (const pid_t child : children) {
    CHECK(wait_child(child) == 0);
  }
  jit::KernelCache cache(dir.path());
  const jit::HostCompiler compiler(with_cache(cache));
  CHECK(cache.find_shared_object(compiler.key(source, "race")).has_value());
  const auto names = jit::test::file_names(dir.path());
  CHECK(jit::test::count_ending(names, ".so") == 1);  // identical builds, one file
  CHECK(jit::test::count_temporaries(names) == 0);
}

TEST_CASE("host JIT: two threads with their own caches compile one kernel at once", "[jit][host]") {
  const auto dir = scratch_dir();
  const std::string source = kernel_source(12);
  std::array<float, 2> results{};
  std::array<std::string, 2> errors;
  std::vector<std::thread> threads;
  threads.reserve(2);
  for (std::size_t i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      try {
        jit::KernelCache cache(dir.path());
        jit::HostCompiler compiler(with_cache(cache));
        results.at(i) = compiler.compile(source, "threads")->function<float(float)>("f")(1.0F);
      } catch (const std::exception& error) {
        errors.at(i) = error.what();
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(errors[0].empty());
  CHECK(errors[1].empty());
  CHECK(results == std::array<float, 2>{14.0F, 14.0F});
  jit::KernelCache cache(dir.path());
  CHECK(cache.find_shared_object(jit::HostCompiler(with_cache(cache)).key(source, "threads")));
}

TEST_CASE("host JIT: unloading an OpenMP kernel leaves the OpenMP runtime loaded", "[jit][host]") {
  // libgomp's worker threads spin in libgomp's code after a parallel region;
  // if closing the kernel that pulled libgomp in unmapped it, they would
  // crash. Run in a child so a crash is a failed exit status, not a dead test.
  const auto dir = scratch_dir();
  const std::string source =
      "extern \"C\" float f(float x) {\n"
      "  float sum = 0.0f;\n"
      "  #pragma omp parallel for reduction(+ : sum) num_threads(4)\n"
      "  for (int i = 0; i < 4000; ++i) sum += x;\n"
      "  return sum;\n"
      "}\n";
  std::array<int, 2> gate{};
  REQUIRE(::pipe(gate.data()) == 0);
  const pid_t child = fork_child(gate, [&] {
    jit::KernelCache cache(dir.path());
    auto compiler = std::make_unique<jit::HostCompiler>(with_cache(cache));
    auto library = compiler->compile(source, "openmp");
    const bool right = library->function<float(float)>("f")(1.0F) == 4000.0F;
    library.reset();
    compiler.reset();  // the last reference: dlclose
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return right;
  });
  ::close(gate[0]);
  ::close(gate[1]);
  CHECK(wait_child(child) == 0);
}

TEST_CASE("host JIT: the compiler's --version is asked once, then read from the cache",
          "[jit][host]") {
  const auto dir = scratch_dir();
  const std::filesystem::path cache_dir = dir.path() / "cache";
  const std::filesystem::path log = dir.path() / "version.log";
  const std::filesystem::path wrapper = dir.path() / "cxx";
  std::string real_compiler;
  {
    jit::KernelCache cache(cache_dir);
    real_compiler = jit::HostCompiler(with_cache(cache)).compiler();
  }
  // A compiler wrapper that notes every --version call.
  jit::test::write_text(wrapper, "#!/bin/sh\nif [ \"$1\" = --version ]; then echo >> '" +
                                     log.string() + "'; fi\nexec '" + real_compiler + "' \"$@\"\n");
  std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
  // Each compile in a fresh process: the identity is memoised per process.
  const auto compile_in_child = [&] {
    std::array<int, 2> gate{};
    REQUIRE(::pipe(gate.data()) == 0);
    const pid_t child = fork_child(gate, [&] {
      jit::KernelCache cache(cache_dir);
      jit::HostCompilerOptions options = with_cache(cache);
      options.compiler = wrapper.string();
      return jit::HostCompiler(options)
                 .compile(kernel_source(13), "wrapped")
                 ->function<float(float)>("f")(1.0F) == 15.0F;
    });
    ::close(gate[0]);
    ::close(gate[1]);
    CHECK(wait_child(child) == 0);
  };
  const auto version_calls = [&] {
    const std::string text = jit::test::read_text(log);
    return std::count(text.begin(), text.end(), '\n');
  };
  compile_in_child();
  CHECK(version_calls() == 1);
  compile_in_child();
  CHECK(version_calls() == 1);
  // Another compiler file under the same name is asked again.
  jit::test::write_text(wrapper, jit::test::read_text(wrapper) + "# changed\n");
  compile_in_child();
  CHECK(version_calls() == 2);
}

namespace {

/// True once `pid` has exited: no such process, or a zombie (a process whose
/// parent died is reaped by init, which may take a moment or, in a container
/// whose init does not reap, never).
bool exited(pid_t pid) {
  const std::optional<std::string> stat =
      jit::detail::read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  const std::size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] == 'Z';
}

/// Polls `done` every 10 ms for up to `limit` (a bound against a hang, not a
/// timing requirement: each poll that succeeds ends the wait).
template <typename Done>
bool eventually(Done done, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace

// SIGKILL runs no handler in the dying process, so only the kernel can take
// its compiler down with it (PR_SET_PDEATHSIG). The compiler here is a
// stand-in that notes its pid and sleeps for a minute: without that, it
// outlives the killed compile by a minute and the check fails. The build
// directory the killed process left in the cache is then removed by the next
// cache opened there, once it is old enough (KernelCache::kOrphanAge).
TEST_CASE("host JIT: a killed compile kills its compiler; its build directory goes later",
          "[jit][host]") {
  const auto dir = scratch_dir();
  const std::filesystem::path cache_dir = dir.path() / "cache";
  const std::filesystem::path pid_file = dir.path() / "compiler.pid";
  const std::filesystem::path slow = dir.path() / "slow-cxx";
  jit::test::write_text(slow,
                        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo slow 1.0; exit 0; "
                        "fi\necho $$ > '" +
                            pid_file.string() + ".new' && mv '" + pid_file.string() + ".new' '" +
                            pid_file.string() + "'\nexec sleep 60\n");
  std::filesystem::permissions(slow, std::filesystem::perms::owner_all);
  std::array<int, 2> gate{};
  REQUIRE(::pipe(gate.data()) == 0);
  const pid_t child = fork_child(gate, [&] {
    jit::KernelCache cache(cache_dir);
    jit::HostCompilerOptions options = with_cache(cache);
    options.compiler = slow.string();
    return jit::HostCompiler(options).compile(kernel_source(21), "slow") != nullptr;
  });
  ::close(gate[0]);
  ::close(gate[1]);
  REQUIRE(eventually([&] { return std::filesystem::exists(pid_file); }, std::chrono::seconds(60)));
  const pid_t compiler = std::stoi(jit::test::read_text(pid_file));
  REQUIRE(::kill(child, SIGKILL) == 0);
  (void)wait_child(child);
  const bool gone = eventually([&] { return exited(compiler); }, std::chrono::seconds(10));
  if (!gone) (void)::kill(compiler, SIGKILL);  // the stand-in we started
  CHECK(gone);

  const std::string left = ".tmp-" + std::to_string(child) + "-";
  const auto leftovers = [&] {
    std::vector<std::filesystem::path> found;
    for (const auto& entry : std::filesystem::directory_iterator(cache_dir)) {
      if (entry.path().filename().string().rfind(left, 0) == 0) found.push_back(entry.path());
    }
    return found;
  };
  const std::vector<std::filesystem::path> build_dirs = leftovers();
  REQUIRE(build_dirs.size() == 1);
  { const jit::KernelCache fresh(cache_dir); }
  CHECK(leftovers().size() == 1);  // an hour has not passed: it might be another machine's
  std::filesystem::last_write_time(build_dirs[0], std::filesystem::file_time_type::clock::now() -
                                                      jit::KernelCache::kOrphanAge -
                                                      std::chrono::minutes(1));
  { const jit::KernelCache later(cache_dir); }
  CHECK(leftovers().empty());
}

TEST_CASE("host JIT: a compile error carries the compiler's message and the source",
          "[jit][host]") {
  const auto dir = scratch_dir();
  jit::KernelCache cache(dir.path());
  jit::HostCompiler compiler(with_cache(cache));
  const std::string source =
      "// generated\nextern \"C\" float f(float x) {\n  return x + undeclared_name;\n}\n";
  try {
    (void)compiler.compile(source, "broken");
    FAIL("the compile should have failed");
  } catch (const jit::CompileError& error) {
    CHECK_THAT(error.log(), Catch::Contains("undeclared_name"));
    CHECK_THAT(error.log(), Catch::Contains("kernel.cpp:3"));
    CHECK_THAT(std::string(error.what()),
               Catch::Contains("undeclared_name") && Catch::Contains("host compiler failed"));
    CHECK(error.source() == source);
  }
  // Nothing is cached for a failed compile, and nothing is left behind.
  const auto names = jit::test::file_names(dir.path());
  CHECK(jit::test::count_ending(names, ".so") == 0);
  CHECK(jit::test::count_ending(names, ".sum") == 0);
  CHECK(jit::test::count_temporaries(names) == 0);

  jit::HostCompilerOptions options = with_cache(cache);
  options.compiler = (dir.path() / "no-such-compiler").string();
  CHECK_THROWS_AS(jit::HostCompiler(options).compile(source, "x"), jit::JitError);
}

TEST_CASE("host JIT: portable flags by default; -march=native only keyed by the CPU",
          "[jit][host]") {
  const auto dir = scratch_dir();
  jit::KernelCache cache(dir.path());
  const jit::HostCompiler portable(with_cache(cache));
  const auto& flags = portable.flags();
  CHECK(flags == std::vector<std::string>{"-O3", "-fopenmp", "-fPIC", "-shared", "-std=c++17"});
  CHECK(portable.key("x", "k").arch.empty());

  jit::HostCompilerOptions options = with_cache(cache);
  options.native = true;
  options.extra_flags = {"-DSPDEC_TEST=1"};
  const jit::HostCompiler native(options);
  CHECK(native.flags().back() == "-march=native");
  CHECK(std::find(native.flags().begin(), native.flags().end(), "-DSPDEC_TEST=1") !=
        native.flags().end());
  const jit::CacheKey key = native.key("x", "k");
  CHECK(key.arch.rfind("native:", 0) == 0);
  CHECK(key.flags.find("-march=native") != std::string::npos);
  CHECK(key.digest() != portable.key("x", "k").digest());
}

TEST_CASE("numbered_source puts line numbers before each line", "[jit][host]") {
  CHECK(jit::numbered_source("").empty());
  CHECK(jit::numbered_source("a\nb") == "   1 | a\n   2 | b\n");
  CHECK(jit::numbered_source("a\n\nc\n") == "   1 | a\n   2 | \n   3 | c\n");
  std::string many;
  for (int i = 0; i < 12000; ++i) {
    many += "x\n";
  }
  const std::string numbered = jit::numbered_source(many);
  CHECK(numbered.rfind("12000 | x\n") == numbered.size() - 10);
  CHECK(numbered.find("    1 | x\n") == 0);
}
