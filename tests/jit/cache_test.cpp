// KernelCache without any compiler: keys, directory resolution, byte
// entries (round trip, corruption, concurrency), an unwritable directory.
#include "codegen/jit/cache.hpp"

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "codegen/jit/hash.hpp"
#include "jit_test_util.hpp"

namespace jit = spdec::jit;
using jit::test::scratch_dir;

namespace {

jit::CacheKey sample_key() {
  return {"perona malik/2", jit::content_hash("source"), "cuda", "compute_75", "nvrtc 13.0",
          "--std=c++17"};
}

// Collects warnings instead of printing them.
struct Warnings {
  std::vector<std::string> messages;
  jit::KernelCache::WarningSink sink() {
    return [this](const std::string& message) { messages.push_back(message); };
  }
};

// Sets an environment variable for one scope (nullptr: unset), then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) {  // NOLINT(concurrency-mt-unsafe): tests
      old_ = old;
    }
    set(value);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ScopedEnv(ScopedEnv&&) = delete;
  ScopedEnv& operator=(ScopedEnv&&) = delete;
  ~ScopedEnv() { set(old_ ? old_->c_str() : nullptr); }

 private:
  void set(const char* value) {
    if (value == nullptr) {
      ::unsetenv(name_);
    } else {
      ::setenv(name_, value, 1);
    }
  }
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("cache hash texts: hex64 and content_hash keep their values", "[jit][cache]") {
  CHECK(jit::hex64(0xaf63dc4c8601ec8cULL) == "af63dc4c8601ec8c");
  // Cache file names derive from these: a change would orphan every cache.
  CHECK(jit::content_hash("foobar") == "85944171f73967e8-6");
  CHECK(jit::content_hash("abc") != jit::content_hash("abd"));
}

TEST_CASE("cache keys: every field counts, file names stay plain", "[jit][cache]") {
  const jit::CacheKey key = sample_key();
  CHECK(key.digest() == sample_key().digest());
  CHECK(key.stem() == "perona_malik_2-cuda-" + key.digest());
  CHECK(key.text().find("spdec-kernel-cache " + std::to_string(jit::kCacheFormatVersion)) == 0);
  for (std::string jit::CacheKey::*field :
       {&jit::CacheKey::name, &jit::CacheKey::content, &jit::CacheKey::target, &jit::CacheKey::arch,
        &jit::CacheKey::toolchain, &jit::CacheKey::flags}) {
    jit::CacheKey other = key;
    other.*field += "x";
    CHECK(other.digest() != key.digest());
  }
  // A newline inside a field cannot forge another field's line.
  jit::CacheKey a = key;
  a.flags = "x\narch=sm_90";
  jit::CacheKey b = key;
  b.flags = "x";
  b.arch = "sm_90";
  CHECK(a.text() != b.text());
  CHECK(jit::CacheKey{}.stem().rfind("kernel-any-", 0) == 0);
  CHECK(jit::CacheKey{".hidden", "", "cpu", "", "", ""}.stem().rfind("kernel.hidden-cpu-", 0) == 0);
}

TEST_CASE("cache directory: SPDEC_CACHE_DIR, else XDG_CACHE_HOME, else HOME", "[jit][cache]") {
  {
    const ScopedEnv dir("SPDEC_CACHE_DIR", "/somewhere/cache");
    const ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    CHECK(jit::KernelCache::default_directory() == "/somewhere/cache");
  }
  {
    const ScopedEnv dir("SPDEC_CACHE_DIR", nullptr);
    const ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    CHECK(jit::KernelCache::default_directory() == "/xdg/spdec");
  }
  {
    const ScopedEnv dir("SPDEC_CACHE_DIR", "");
    const ScopedEnv xdg("XDG_CACHE_HOME", "relative/is/ignored");
    const ScopedEnv home("HOME", "/home/someone");
    CHECK(jit::KernelCache::default_directory() == "/home/someone/.cache/spdec");
  }
}

TEST_CASE("byte entries: miss, store, load, and a new cache object sees them", "[jit][cache]") {
  const auto dir = scratch_dir();
  Warnings warnings;
  jit::KernelCache cache(dir.path() / "nested" / "cache", warnings.sink());
  CHECK(cache.writable());
  CHECK(std::filesystem::is_directory(cache.directory()));
  const jit::CacheKey key = sample_key();
  CHECK_FALSE(cache.load(key).has_value());

  std::string payload = "// PTX\n.entry k\n";
  payload.push_back('\0');  // binary payloads (cubins) hold NULs
  payload += "\xff\x7f tail";
  cache.store(key, payload);
  CHECK(std::filesystem::exists(cache.entry_path(key)));
  CHECK(cache.load(key) == payload);

  jit::KernelCache again(cache.directory(), warnings.sink());
  CHECK(again.load(key) == payload);
  jit::CacheKey other = key;
  other.arch = "compute_80";
  CHECK_FALSE(again.load(other).has_value());

  cache.store(key, "replaced");
  CHECK(again.load(key) == "replaced");
  CHECK(jit::test::count_ending(jit::test::file_names(cache.directory()), ".bin") == 1);
  CHECK(warnings.messages.empty());
}

TEST_CASE("byte entries: a corrupt or truncated entry is a miss and is overwritten",
          "[jit][cache]") {
  const auto dir = scratch_dir();
  jit::KernelCache cache(dir.path());
  const jit::CacheKey key = sample_key();
  const std::string payload(1000, 'p');
  cache.store(key, payload);
  const std::filesystem::path path = cache.entry_path(key);
  const std::string good = jit::test::read_text(path);
  REQUIRE(cache.load(key) == payload);

  const auto corrupt = [&](const std::string& what, const std::string& bytes) {
    INFO(what);
    jit::test::write_text(path, bytes);
    CHECK_FALSE(cache.load(key).has_value());
    cache.store(key, payload);
    CHECK(cache.load(key) == payload);
  };
  corrupt("empty file", "");
  corrupt("header only", good.substr(0, 32));
  corrupt("truncated payload", good.substr(0, good.size() - 1));
  corrupt("trailing bytes", good + "x");
  corrupt("garbage", std::string(good.size(), '\x5a'));
  for (const std::size_t offset :
       {std::size_t{0}, std::size_t{9}, std::size_t{13}, std::size_t{17}, std::size_t{25},
        std::size_t{40}, good.size() / 2, good.size() - 1}) {
    std::string flipped = good;
    flipped[offset] = static_cast<char>(flipped[offset] ^ 0x01);
    corrupt("one bit flipped at " + std::to_string(offset), flipped);
  }
  // An intact entry for another key under this key's name (a hash collision).
  jit::CacheKey other = key;
  other.flags = "--use_fast_math";
  cache.store(other, payload);
  std::filesystem::copy_file(cache.entry_path(other), path,
                             std::filesystem::copy_options::overwrite_existing);
  CHECK_FALSE(cache.load(key).has_value());
}

TEST_CASE("byte entries: concurrent writers and readers never see a partial entry",
          "[jit][cache]") {
  const auto dir = scratch_dir();
  const jit::CacheKey key = sample_key();
  const std::string payload(200000, 'x');
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      jit::KernelCache cache(dir.path());  // one cache object per thread, like separate processes
      for (int i = 0; i < 25; ++i) {
        if (t % 2 == 0) {
          cache.store(key, payload);
        } else if (const auto got = cache.load(key); got && *got != payload) {
          ++bad;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(bad == 0);
  jit::KernelCache cache(dir.path());
  CHECK(cache.load(key) == payload);
  const auto names = jit::test::file_names(dir.path());
  CHECK(names.size() == 1);  // no temporary file left behind
}

TEST_CASE("an unwritable cache directory warns once and keeps entries in memory", "[jit][cache]") {
  const auto dir = scratch_dir();
  const std::filesystem::path unwritable = jit::test::unwritable_directory(dir.path());
  Warnings warnings;
  jit::KernelCache cache(unwritable, warnings.sink());
  CHECK_FALSE(cache.writable());
  cache.store(sample_key(), "one");
  jit::CacheKey other = sample_key();
  other.name = "other";
  cache.store(other, "two");
  CHECK(cache.load(sample_key()) == "one");
  CHECK(cache.load(other) == "two");
  REQUIRE(warnings.messages.size() == 1);
  CHECK_THAT(warnings.messages[0],
             Catch::Contains(unwritable.string()) && Catch::Contains("not writable"));
  CHECK(cache.work_directory_parent() != unwritable);
}

// Temporaries whose writer is gone (its pid is above any pid_max, which is
// at most 2^22) and that are older than kOrphanAge are removed when a cache
// is opened; a recent one (perhaps another machine's live writer), one of a
// live pid (this process) and the cache's own entries stay.
TEST_CASE("cache: killed writers' temporaries are removed once old enough", "[jit][cache]") {
  const auto dir = scratch_dir();
  const std::filesystem::path cache_dir = dir.path() / "cache";
  std::filesystem::create_directories(cache_dir / ".tmp-999999999-build");
  jit::test::write_text(cache_dir / ".tmp-999999999-build" / "kernel.cpp", "int x;\n");
  const std::string live = ".tmp-" + std::to_string(::getpid()) + "-1.live.bin";
  for (const char* name :
       {".tmp-999999999-2.entry.bin", ".tmp-999999999-3.recent.bin", "kernel-any-0123.bin"}) {
    jit::test::write_text(cache_dir / name, "x");
  }
  jit::test::write_text(cache_dir / live, "x");
  const auto old = std::filesystem::file_time_type::clock::now() - jit::KernelCache::kOrphanAge -
                   std::chrono::minutes(1);
  for (const std::string name : {".tmp-999999999-build", ".tmp-999999999-2.entry.bin",
                                 "kernel-any-0123.bin", live.c_str()}) {
    std::filesystem::last_write_time(cache_dir / name, old);
  }
  const jit::KernelCache cache(cache_dir);
  CHECK_FALSE(std::filesystem::exists(cache_dir / ".tmp-999999999-build"));
  CHECK_FALSE(std::filesystem::exists(cache_dir / ".tmp-999999999-2.entry.bin"));
  CHECK(std::filesystem::exists(cache_dir / ".tmp-999999999-3.recent.bin"));
  CHECK(std::filesystem::exists(cache_dir / live));
  CHECK(std::filesystem::exists(cache_dir / "kernel-any-0123.bin"));
}
