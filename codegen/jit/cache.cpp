#include "codegen/jit/cache.hpp"

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <iostream>
#include <system_error>
#include <utility>

#include "codegen/jit/files.hpp"
#include "codegen/jit/hash.hpp"
#include "lang/atomic_write.hpp"
#include "lang/orphaned_temporary.hpp"

namespace spdec::jit {
namespace {

constexpr std::string_view kEntryMagic = "spdecJIT";
constexpr std::string_view kSidecarMagic = "spdecSUM";
constexpr std::size_t kHeaderSize = 32;
constexpr std::size_t kMaxNameChars = 48;

// --- Entry headers ------------------------------------------------------------

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out.push_back(static_cast<char>(value & 0xFFU));
    value >>= 8U;
  }
}

std::uint64_t get_le(std::string_view in, std::size_t offset, int bytes) {
  std::uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    value = (value << 8U) | static_cast<unsigned char>(in[offset + static_cast<std::size_t>(i)]);
  }
  return value;
}

struct Header {
  std::string_view key_text;
  std::uint64_t payload_size = 0;
  std::uint64_t checksum = 0;
  std::size_t end = 0;  // offset of the first byte after the key text
};

// Header followed by the key text.
std::string encode_header(std::string_view magic, std::string_view key_text,
                          std::uint64_t payload_size, std::uint64_t checksum) {
  std::string out(magic);
  put_le(out, static_cast<std::uint64_t>(kCacheFormatVersion), 4);
  put_le(out, key_text.size(), 4);
  put_le(out, payload_size, 8);
  put_le(out, checksum, 8);
  out.append(key_text);
  return out;
}

std::optional<Header> decode_header(std::string_view file, std::string_view magic) {
  if (file.size() < kHeaderSize || file.substr(0, magic.size()) != magic ||
      get_le(file, 8, 4) != static_cast<std::uint64_t>(kCacheFormatVersion)) {
    return std::nullopt;
  }
  const std::uint64_t key_size = get_le(file, 12, 4);
  if (key_size > file.size() - kHeaderSize) {
    return std::nullopt;
  }
  Header header;
  header.key_text = file.substr(kHeaderSize, key_size);
  header.payload_size = get_le(file, 16, 8);
  header.checksum = get_le(file, 24, 8);
  header.end = kHeaderSize + key_size;
  return header;
}

std::uint64_t checksum(std::string_view key_text, std::string_view payload) {
  lang::Fnv1a64 hash;
  hash.update(key_text);
  hash.update(payload);
  return hash.value();
}

// --- Keys ---------------------------------------------------------------------

// Backslash and newline escaped, so every field stays on its line.
std::string escape_line(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string file_name_part(std::string_view text, std::string_view fallback) {
  std::string out;
  for (const char c : text.substr(0, kMaxNameChars)) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == '.';
    out += plain ? c : '_';
  }
  if (out.empty() || out.front() == '.') {
    out.insert(0, fallback);
  }
  return out;
}

std::string env(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read once at start
  return value == nullptr ? std::string() : std::string(value);
}

void print_warning(const std::string& message) { std::cerr << message << std::flush; }

}  // namespace

// --- CacheKey -------------------------------------------------------------------

std::string CacheKey::text() const {
  std::string out = "spdec-kernel-cache " + std::to_string(kCacheFormatVersion) + "\n";
  const std::array<std::pair<const char*, const std::string*>, 6> fields = {{
      {"name", &name},
      {"content", &content},
      {"target", &target},
      {"arch", &arch},
      {"toolchain", &toolchain},
      {"flags", &flags},
  }};
  for (const auto& [field, value] : fields) {
    out.append(field).append("=").append(escape_line(*value)).append("\n");
  }
  return out;
}

std::string CacheKey::digest() const { return hex64(lang::fnv1a64(text())); }

std::string CacheKey::stem() const {
  return file_name_part(name, "kernel") + "-" + file_name_part(target, "any") + "-" + digest();
}

// --- KernelCache ----------------------------------------------------------------

KernelCache::KernelCache(std::filesystem::path directory, WarningSink warn)
    : directory_(std::move(directory)), warn_(warn ? std::move(warn) : WarningSink(print_warning)) {
  check_writable();
  if (writable()) remove_orphans();
}

void KernelCache::remove_orphans() const {
  std::error_code ec;
  const auto now = std::filesystem::file_time_type::clock::now();
  for (std::filesystem::directory_iterator it(directory_, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::filesystem::path& path = it->path();
    if (!lang::is_orphaned_temporary(path.filename().string())) continue;
    std::error_code entry_ec;
    const auto written = std::filesystem::last_write_time(path, entry_ec);
    if (entry_ec || now - written < kOrphanAge) continue;
    std::filesystem::remove_all(path, entry_ec);  // best effort: another cleaner may race us
  }
}

KernelCache& KernelCache::global() {
  static KernelCache cache(default_directory());
  return cache;
}

std::filesystem::path KernelCache::default_directory() {
  if (std::string dir = env("SPDEC_CACHE_DIR"); !dir.empty()) {
    return dir;
  }
  // The XDG base directory spec says to ignore relative paths.
  if (std::filesystem::path xdg = env("XDG_CACHE_HOME"); xdg.is_absolute()) {
    return xdg / "spdec";
  }
  if (std::string home = env("HOME"); !home.empty()) {
    return std::filesystem::path(home) / ".cache" / "spdec";
  }
  std::error_code ignored;
  return std::filesystem::temp_directory_path(ignored) /
         ("spdec-cache-" + std::to_string(::geteuid()));
}

void KernelCache::check_writable() {
  std::error_code ec;
  std::filesystem::create_directories(directory_, ec);
  if (ec) {
    report_unwritable("cannot create it: " + ec.message());
    return;
  }
  // A real write, not access(2): that answers for the real uid and for root
  // says yes where the file system then refuses.
  const std::filesystem::path probe =
      directory_ / (".tmp-" + std::to_string(::getpid()) + "-probe");
  if (const auto failure = lang::write_file_atomically(probe, {})) {
    report_unwritable(failure->problem);
    return;
  }
  std::filesystem::remove(probe, ec);
}

void KernelCache::report_unwritable(const std::string& why) {
  writable_.store(false);
  {
    const std::lock_guard lock(mutex_);
    if (std::exchange(warned_, true)) {
      return;
    }
  }
  warn_("spdec: warning: the kernel cache directory " + directory_.string() + " is not writable (" +
        why +
        "); compiled kernels are kept for this process only. Set SPDEC_CACHE_DIR to a "
        "writable directory to cache them.\n");
}

std::filesystem::path KernelCache::entry_path(const CacheKey& key) const {
  return directory_ / (key.stem() + ".bin");
}

std::filesystem::path KernelCache::sidecar_path(const CacheKey& key) const {
  return directory_ / (key.stem() + ".sum");
}

std::filesystem::path KernelCache::shared_object_path(const CacheKey& key,
                                                      std::uint64_t sum) const {
  return directory_ / (key.stem() + "-" + hex64(sum) + ".so");
}

std::filesystem::path KernelCache::work_directory_parent() const {
  if (writable()) {
    return directory_;
  }
  std::error_code ignored;
  return std::filesystem::temp_directory_path(ignored);
}

std::optional<std::string> KernelCache::load(const CacheKey& key) {
  const std::string stem = key.stem();
  {
    const std::lock_guard lock(mutex_);
    if (const auto it = memory_.find(stem); it != memory_.end()) {
      return it->second;
    }
  }
  std::optional<std::string> file = detail::read_file(entry_path(key));
  if (!file) {
    return std::nullopt;
  }
  const auto header = decode_header(*file, kEntryMagic);
  const std::string key_text = key.text();
  if (!header || header->key_text != key_text ||
      header->payload_size != file->size() - header->end) {
    return std::nullopt;
  }
  const std::string_view payload = std::string_view(*file).substr(header->end);
  if (checksum(key_text, payload) != header->checksum) {
    return std::nullopt;
  }
  return std::string(payload);
}

void KernelCache::store(const CacheKey& key, std::string_view bytes) {
  if (writable()) {
    const std::string key_text = key.text();
    std::string file =
        encode_header(kEntryMagic, key_text, bytes.size(), checksum(key_text, bytes));
    file.append(bytes);
    const auto failure = lang::write_file_atomically(entry_path(key), file);
    if (!failure) {
      return;
    }
    report_unwritable(failure->message());
  }
  const std::lock_guard lock(mutex_);
  memory_[key.stem()] = std::string(bytes);
}

std::optional<std::filesystem::path> KernelCache::find_shared_object(const CacheKey& key) const {
  const std::optional<std::string> sidecar = detail::read_file(sidecar_path(key));
  if (!sidecar) {
    return std::nullopt;
  }
  const auto header = decode_header(*sidecar, kSidecarMagic);
  const std::string key_text = key.text();
  if (!header || header->end != sidecar->size() || header->key_text != key_text) {
    return std::nullopt;
  }
  std::filesystem::path path = shared_object_path(key, header->checksum);
  const std::optional<std::string> object = detail::read_file(path);
  if (!object || object->size() != header->payload_size ||
      checksum(key_text, *object) != header->checksum) {
    return std::nullopt;
  }
  return path;
}

std::optional<std::filesystem::path> KernelCache::store_shared_object(
    const CacheKey& key, const std::filesystem::path& built) {
  if (!writable()) {
    return std::nullopt;
  }
  std::string error;
  const std::optional<std::string> object = detail::read_file(built);
  if (!object) {
    return std::nullopt;  // not the directory's fault; the caller loads `built` itself
  }
  const std::string key_text = key.text();
  const std::uint64_t sum = checksum(key_text, *object);
  std::filesystem::path path = shared_object_path(key, sum);
  // The .so first, under its content-derived name; then the sidecar, which
  // commits the entry (see the protocol in cache.hpp).
  if (!detail::rename_file(built, path, &error)) {
    report_unwritable(error);
    return std::nullopt;
  }
  if (const auto failure = lang::write_file_atomically(
          sidecar_path(key), encode_header(kSidecarMagic, key_text, object->size(), sum))) {
    report_unwritable(failure->message());
  }
  // Even without a sidecar the .so at `path` is complete and can be loaded.
  return path;
}

}  // namespace spdec::jit
