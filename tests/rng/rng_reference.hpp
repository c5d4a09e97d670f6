// Test helpers for tests/rng: a double-precision evaluation of the stream's
// Box-Muller formula (the reference the float code is measured against) and
// ulp distances.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace spdec::rng_test {

// u = float(ra) * 2^-32 + 2^-33 rounded once to float (the double sum is
// exact, so rounding it to float is the float addition's result).
inline float reference_uniform(std::uint32_t ra) {
  return static_cast<float>(static_cast<double>(static_cast<float>(ra)) * 0x1p-32 + 0x1p-33);
}

struct SinCos {
  double s;
  double c;
};

// sin and cos of theta = (pi/2) (q + f) with q and f exactly as philox.h
// defines them from rb (f = float(fi) * 2^-30), in double.
inline SinCos reference_sincos(std::uint32_t rb) {
  const std::uint32_t w = rb + 0x20000000U;
  const std::uint32_t q = w >> 30;
  const int fi = static_cast<int>(w & 0x3FFFFFFFU) - 0x20000000;
  const double f = static_cast<double>(static_cast<float>(fi)) * 0x1p-30;
  const double half_pi = 1.57079632679489661923;
  const double s = std::sin(half_pi * f);
  const double c = std::cos(half_pi * f);
  SinCos r{s, c};
  if ((q & 1U) != 0U) r = {c, -s};
  if ((q & 2U) != 0U) r = {-r.s, -r.c};
  return r;
}

// (z0, z1) of BoxMuller(ra, rb) in double.
inline void reference_box_muller(std::uint32_t ra, std::uint32_t rb, double* z0, double* z1) {
  const double radius = std::sqrt(-2.0 * std::log(static_cast<double>(reference_uniform(ra))));
  const SinCos sc = reference_sincos(rb);
  *z0 = radius * sc.c;
  *z1 = radius * sc.s;
}

// |got - ref| in units of the float ulp at ref (the spacing of floats at |ref|).
inline double ulp_error(float got, double ref) {
  const float rf = static_cast<float>(std::fabs(ref));
  const double ulp =
      static_cast<double>(std::nextafter(rf, std::numeric_limits<float>::infinity())) -
      static_cast<double>(rf);
  return std::fabs(static_cast<double>(got) - ref) / ulp;
}

inline std::uint32_t float_bits(float x) {
  std::uint32_t u = 0;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

inline float bits_float(std::uint32_t u) {
  float x = 0;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

}  // namespace spdec::rng_test
