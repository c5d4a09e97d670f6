// splitmix64 (Steele, Lea & Flood 2014): the small, portable generator behind
// every host-side random choice that must be the same on every machine and
// after a resume — data order, flips, training times, label dropout. Tensor
// noise is Philox (codegen/rng/philox.h).
#pragma once

#include <cstdint>

namespace spdec::runtime {

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31U);
}

/// A well-mixed 64-bit key of (seed, a, b).
inline std::uint64_t mix(std::uint64_t seed, std::uint64_t a, std::uint64_t b) {
  std::uint64_t state = seed;
  state ^= splitmix64(state) + a;
  state ^= splitmix64(state) + b;
  return splitmix64(state);
}

/// A uniform double in [0, 1) with 53 random bits.
inline double uniform01(std::uint64_t& state) {
  return static_cast<double>(splitmix64(state) >> 11U) * 0x1.0p-53;
}

}  // namespace spdec::runtime
