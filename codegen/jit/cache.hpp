// The on-disk kernel cache: compiled kernels (shared objects for the CPU,
// PTX or cubin for CUDA) keyed by everything that went into them, so a
// process that needs a kernel another process already built loads it in a
// few milliseconds instead of compiling it again.
//
// KEYS. A CacheKey lists the inputs of a compilation: what is compiled (a
// hash of the source text, or of the IR it was generated from, chosen by the
// caller), the target ("cpu"/"cuda"), the architecture, the compiler's
// identity (path and version, or the NVRTC version), the flags, and
// kCacheFormatVersion. Its canonical text() names the entry (through a hash,
// digest()) and is also stored inside the entry and compared on every load,
// so even a hash collision cannot hand out the wrong kernel. Headers that the
// generated code includes are not part of the key (the generated code is
// self-contained apart from the C++ standard library).
//
// LOCATION. $SPDEC_CACHE_DIR, else $XDG_CACHE_HOME/spdec, else
// ~/.cache/spdec (default_directory()). One flat directory; file names are
// "<name>-<target>-<digest>" (stem()) plus an extension.
//
// BYTE ENTRIES (PTX, cubin): one file "<stem>.bin" =
//   header (32 bytes, little-endian): magic "spdecJIT", u32 format version,
//   u32 key-text size K, u64 payload size N, u64 checksum;
//   then the key text (K bytes), then the payload (N bytes).
// The checksum is FNV-1a 64 over key text and payload. A file that is not
// exactly 32 + K + N bytes, has another magic, version or key text, or whose
// checksum does not match is a miss (and is replaced by the next store).
//
// SHARED OBJECTS. dlopen needs a plain ELF file, so the checksum lives in a
// sidecar, and the sidecar is the commit record:
//   "<stem>-<checksum>.so"  the shared object, named by its own checksum
//                           (FNV-1a 64 over key text and .so bytes);
//   "<stem>.sum"            header as above with magic "spdecSUM", N = the
//                           size of the .so, the checksum, then the key text.
// Writer: build the .so in a private directory inside the cache directory;
// hash it; rename it to "<stem>-<checksum>.so"; write the sidecar to a
// temporary file; rename it to "<stem>.sum". Reader: read and check the
// sidecar (magic, version, size, key text); read "<stem>-<checksum>.so" and
// check its size and checksum; only then dlopen that very path.
//
// WHY THIS IS SAFE. Every file appears under its final name by rename(2)
// from a temporary file in the same directory, so a final name always refers
// to a complete file; a file is never written in place, so a process that
// has a kernel mapped is never disturbed by another one replacing it. A .so
// name fixes its contents (the checksum is in the name): two processes that
// compile the same kernel at once rename identical files over each other, and
// whichever sidecar lands last points at a .so that matches it. A writer that
// dies between the two renames leaves a .so without a sidecar (a miss, and an
// orphan that the next writer replaces). Corruption afterwards (truncation,
// bit rot, a torn .so after a power loss: entries and sidecars are fsync'ed
// before their rename, the .so is not) fails the checks and is a miss, never
// a crash; the rebuilt entry replaces it. Entries and sidecars are written by
// lang::write_file_atomically; temporary files and directories are
// ".tmp-<pid>-..." (unique among live writers). Temporaries of killed
// writers are removed when a cache is opened on a writable directory: those
// whose pid is gone from this machine and that were last written over an hour
// ago (kOrphanAge; a cache shared between machines, say a home directory on
// NFS, may hold a live writer's temporary whose pid means nothing here, and
// no compile takes an hour). A .so whose sidecar was replaced by a different
// build is not removed.
//
// UNWRITABLE DIRECTORY. When the directory cannot be created or written, the
// cache warns once (naming the directory and the reason) and carries on:
// byte entries are kept in memory for the life of the KernelCache, and the
// host compiler builds in a private temporary directory. Loads still read the
// directory, so a read-only, pre-filled cache still hits.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace spdec::jit {

/// Bumped whenever the entry layout or the meaning of a key changes; old
/// entries then simply stop matching.
inline constexpr int kCacheFormatVersion = 1;

struct CacheKey {
  std::string name;       ///< readable part of the file name (kernel or process name); may be empty
  std::string content;    ///< what is compiled: content_hash(source) or the caller's IR hash
  std::string target;     ///< "cpu" or "cuda"
  std::string arch;       ///< "" (portable CPU code), a CPU identity, "sm_90", "compute_90"
  std::string toolchain;  ///< compiler identity: path and version, or the NVRTC version
  std::string flags;      ///< compiler options, space-separated

  /// Canonical text: the format version and one "field=value" line per field.
  [[nodiscard]] std::string text() const;
  /// hex64 of FNV-1a over text().
  [[nodiscard]] std::string digest() const;
  /// "<name>-<target>-<digest>", name and target reduced to [A-Za-z0-9_.] and shortened.
  [[nodiscard]] std::string stem() const;
};

/// What a compile call did; pass a pointer to one to get it filled in.
struct CompileResult {
  bool cache_hit = false;     ///< true when nothing was compiled (memory or disk)
  bool memory_hit = false;    ///< true when this process had it already (no disk access)
  double seconds = 0.0;       ///< wall time of the whole call
  std::string key;            ///< CacheKey::stem() of the kernel
  std::string artifact_path;  ///< the file loaded or written; empty when kept in memory only
};

class KernelCache {
 public:
  /// Receives the one warning about an unwritable directory; the default
  /// prints it to stderr.
  using WarningSink = std::function<void(const std::string&)>;

  /// Temporaries of a dead writer are left this long before they are removed.
  static constexpr std::chrono::hours kOrphanAge{1};

  /// Creates the directory if needed and checks that it can be written to
  /// (warning once if not), then removes killed writers' temporaries. Does
  /// not throw.
  explicit KernelCache(std::filesystem::path directory, WarningSink warn = {});

  KernelCache(const KernelCache&) = delete;
  KernelCache& operator=(const KernelCache&) = delete;
  KernelCache(KernelCache&&) = delete;
  KernelCache& operator=(KernelCache&&) = delete;
  ~KernelCache() = default;

  /// The process-wide cache in default_directory(), made on first use.
  static KernelCache& global();
  /// $SPDEC_CACHE_DIR, else $XDG_CACHE_HOME/spdec, else $HOME/.cache/spdec
  /// (else <temp>/spdec-cache-<uid> when there is no home).
  [[nodiscard]] static std::filesystem::path default_directory();

  [[nodiscard]] const std::filesystem::path& directory() const { return directory_; }
  /// False once the directory turned out not to be writable.
  [[nodiscard]] bool writable() const { return writable_.load(); }

  /// A byte entry (PTX, cubin): from memory, else from disk when intact.
  [[nodiscard]] std::optional<std::string> load(const CacheKey& key);
  /// Stores a byte entry on disk (atomically), or in memory when the
  /// directory is not writable. Never throws for I/O errors.
  void store(const CacheKey& key, std::string_view bytes);

  /// The path of an intact cached shared object for key, ready for dlopen.
  [[nodiscard]] std::optional<std::filesystem::path> find_shared_object(const CacheKey& key) const;
  /// Moves a freshly built shared object (a file in a directory inside
  /// directory(), see work_directory_parent) into the cache and returns its
  /// final path; nullopt (after the one warning) when that failed, in which
  /// case `built` is left where it was.
  std::optional<std::filesystem::path> store_shared_object(const CacheKey& key,
                                                           const std::filesystem::path& built);

  /// Where a compiler should make its private build directory: inside the
  /// cache directory (so the result can be renamed into place) when it is
  /// writable, else the system's temporary directory.
  [[nodiscard]] std::filesystem::path work_directory_parent() const;

  [[nodiscard]] std::filesystem::path entry_path(const CacheKey& key) const;
  [[nodiscard]] std::filesystem::path sidecar_path(const CacheKey& key) const;
  [[nodiscard]] std::filesystem::path shared_object_path(const CacheKey& key,
                                                         std::uint64_t checksum) const;

  /// Marks the directory unwritable and warns, the first time only.
  void report_unwritable(const std::string& why);

 private:
  void check_writable();
  /// Removes ".tmp-<pid>-..." entries of writers gone for kOrphanAge.
  void remove_orphans() const;

  std::filesystem::path directory_;
  WarningSink warn_;
  std::atomic<bool> writable_{true};
  std::mutex mutex_;  // guards warned_ and memory_
  bool warned_ = false;
  std::map<std::string, std::string> memory_;  // by stem, when the directory is not writable
};

}  // namespace spdec::jit
