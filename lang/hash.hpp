// 64-bit FNV-1a: the one content hash of spdec (kernel cache keys and
// checksums, the stencil program's hash, run fingerprints in checkpoints).
// Stable across platforms, compilers and runs, which std::hash is not: its
// values are stored on disk, so they must never change (tests/lang/hash_test.cpp
// pins known values). Not cryptographic: it detects accidents (torn writes,
// truncation, an edited process), not an adversary. Header-only and torch-free
// so that codegen/jit, which links no other spdec library, can use it too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace spdec::lang {

/// Incremental 64-bit FNV-1a; feeding bytes in pieces gives the same value as
/// feeding them at once.
class Fnv1a64 {
 public:
  static constexpr std::uint64_t kOffsetBasis = 14695981039346656037ULL;
  static constexpr std::uint64_t kPrime = 1099511628211ULL;

  constexpr void update(std::string_view bytes) {
    for (const char c : bytes) {
      state_ ^= static_cast<unsigned char>(c);
      state_ *= kPrime;
    }
  }
  [[nodiscard]] constexpr std::uint64_t value() const { return state_; }

 private:
  std::uint64_t state_ = kOffsetBasis;
};

[[nodiscard]] constexpr std::uint64_t fnv1a64(std::string_view bytes) {
  Fnv1a64 hash;
  hash.update(bytes);
  return hash.value();
}

/// A hash as it is written into names and files: 16 lowercase hex digits.
[[nodiscard]] inline std::string hex64(std::uint64_t value) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string text(16, '0');
  for (std::size_t i = 0; i < 16; ++i) {
    text[15 - i] = kDigits[value & 0xFU];
    value >>= 4U;
  }
  return text;
}

}  // namespace spdec::lang
