// Hashing for the kernel cache: 64-bit FNV-1a.
//
// Used for cache keys (over short key texts and kernel sources) and for the
// checksums that detect corrupt or truncated cache entries. It is not a
// cryptographic hash: the cache defends against accidents (torn writes,
// truncation, bit rot), not against someone who can write the cache folder.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace spdec::jit {

/// Incremental 64-bit FNV-1a; feeding bytes in pieces gives the same value as
/// feeding them at once.
class Fnv1a64 {
 public:
  static constexpr std::uint64_t kOffsetBasis = 14695981039346656037ULL;
  static constexpr std::uint64_t kPrime = 1099511628211ULL;

  void update(std::string_view bytes);
  [[nodiscard]] std::uint64_t value() const { return state_; }

 private:
  std::uint64_t state_ = kOffsetBasis;
};

[[nodiscard]] std::uint64_t fnv1a64(std::string_view bytes);

/// 16 lowercase hexadecimal digits.
[[nodiscard]] std::string hex64(std::uint64_t value);

/// Identifies a text by content for a cache key: its FNV-1a hash and its
/// length ("<16 hex>-<bytes>"), so a collision also needs equal lengths.
[[nodiscard]] std::string content_hash(std::string_view text);

}  // namespace spdec::jit
