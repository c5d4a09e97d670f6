// Accuracy of the float arithmetic in codegen/rng/philox.h against double
// precision, the host's fma emulation against the C library's fmaf, and the
// host's throughput (printed, never asserted).
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "codegen/rng/philox.h"
#include "tests/rng/rng_reference.hpp"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace {

using spdec::rng_test::bits_float;
using spdec::rng_test::float_bits;
using spdec::rng_test::reference_box_muller;
using spdec::rng_test::reference_sincos;
using spdec::rng_test::ulp_error;

// A random float with a random sign and an exponent in [emin, emax].
float random_float(std::mt19937_64& gen, int emin, int emax) {
  const std::uint64_t r = gen();
  const auto exponent = static_cast<std::uint32_t>(
      emin + static_cast<int>((r >> 32) % static_cast<std::uint64_t>(emax - emin + 1)) + 127);
  const auto mantissa = static_cast<std::uint32_t>(r & 0x7FFFFFU);
  const auto sign = static_cast<std::uint32_t>((r >> 31) & 1U);
  return bits_float((sign << 31) | (exponent << 23) | mantissa);
}

}  // namespace

TEST_CASE("spdec_rng_fma is a correctly rounded fmaf", "[rng][accuracy]") {
  // Without -mfma the host computes it inline (double product and sum, with a
  // fix-up when the sum lands on a float midpoint); with an FMA unit it is the
  // instruction. Either way it must equal the C library's fmaf bit for bit.
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA) || defined(__FP_FAST_FMAF)
  INFO(
      "this build uses the FMA instruction; the inline emulation is tested by jit_test only "
      "when it is built without -mfma");
#endif
  std::mt19937_64 gen(42);
  for (int i = 0; i < 1000000; ++i) {
    const float a = random_float(gen, -20, 20);
    const float b = random_float(gen, -20, 20);
    const float c = random_float(gen, -40, 40);
    const float got = spdec_rng_fma(a, b, c);
    const float want = std::fma(a, b, c);
    if (float_bits(got) != float_bits(want)) {
      CAPTURE(i, a, b, c, got, want);
      REQUIRE(float_bits(got) == float_bits(want));
    }
  }

  // Double rounding traps: a*b = +-(2^-24 - 2^-70) * 2^e and c = F * 2^e with
  // F in [1, 2), so that p + c rounds (in double) to exactly a float midpoint
  // while the exact sum lies just off it. Rounding the double sum to float
  // naively then goes the wrong way for about half of these.
  int naive_wrong = 0;
  const float a0 = 0x1p-12F * (1.0F + 0x1p-23F);
  const float b0 = 0x1p-12F * (1.0F - 0x1p-23F);
  for (int i = 0; i < 20000; ++i) {
    const int e = static_cast<int>(gen() % 40) - 20;
    const float scale = std::ldexp(1.0F, e);
    const float f = bits_float(0x3F800000U | static_cast<std::uint32_t>(gen() & 0x7FFFFFU));
    const float sa = (gen() & 1U) != 0U ? -1.0F : 1.0F;
    const float sc = (gen() & 1U) != 0U ? -1.0F : 1.0F;
    const float a = sa * a0 * scale;  // exact
    const float b = b0;
    const float c = sc * f * scale;
    const float want = std::fma(a, b, c);
    const auto naive = static_cast<float>(static_cast<double>(a) * static_cast<double>(b) +
                                          static_cast<double>(c));
    naive_wrong += float_bits(naive) != float_bits(want) ? 1 : 0;
    const float got = spdec_rng_fma(a, b, c);
    if (float_bits(got) != float_bits(want)) {
      CAPTURE(i, a, b, c, got, want);
      REQUIRE(float_bits(got) == float_bits(want));
    }
  }
  INFO("double rounding would have been wrong in " << naive_wrong << " of 20000 cases");
  CHECK(naive_wrong > 1000);  // the cases do exercise the fix-up
}

TEST_CASE("spdec_rng_log is within 1 ulp of ln", "[rng][accuracy]") {
  // Every float in [1/2, 1), where the reduction straddles sqrt(2)/2 and 1,
  // then every 101st float from 2^-33 (the smallest uniform) up to 1. (A sweep
  // of all 2.8e8 floats in [2^-33, 1] measured 0.752 ulp.)
  double worst = 0.0;
  float worst_at = 0.0F;
  const auto check = [&](std::uint32_t bits) {
    const float x = bits_float(bits);
    const double ref = std::log(static_cast<double>(x));
    const float got = spdec_rng_log(x);
    if (ref == 0.0) {
      REQUIRE(float_bits(got) == 0U);
      return;
    }
    const double err = ulp_error(got, ref);
    if (err > worst) {
      worst = err;
      worst_at = x;
    }
  };
  for (std::uint32_t b = float_bits(0.5F); b < float_bits(1.0F); ++b) check(b);
  for (std::uint32_t b = float_bits(0x1p-33F); b <= float_bits(1.0F); b += 101) check(b);
  check(float_bits(1.0F));
  WARN("spdec_rng_log: largest error " << worst << " ulp (at " << worst_at << ")");
  CHECK(worst <= 1.0);  // measured 0.752 ulp (fdlibm's kernel with exact fmas)
}

TEST_CASE("spdec_rng_sincos_turns is within 1 ulp of sin and cos", "[rng][accuracy]") {
  // Reference: the same quadrant q and reduced turn f (philox.h's definition),
  // then sin/cos(pi/2 f) in double. Every 997th r over the whole circle, and
  // every r within 2^16 of each quarter turn. (A sweep of all 2^32 inputs
  // measured 0.99 ulp for both.)
  double worst_s = 0.0;
  double worst_c = 0.0;
  const auto check = [&](std::uint32_t r) {
    float s = 0.0F;
    float c = 0.0F;
    spdec_rng_sincos_turns(r, &s, &c);
    const auto ref = reference_sincos(r);
    if (ref.s != 0.0) worst_s = std::max(worst_s, ulp_error(s, ref.s));
    if (ref.c != 0.0) worst_c = std::max(worst_c, ulp_error(c, ref.c));
    if (ref.s == 0.0) REQUIRE(s == 0.0F);
    if (ref.c == 0.0) REQUIRE(c == 0.0F);
  };
  for (std::uint64_t r = 0; r <= 0xFFFFFFFFULL; r += 997) check(static_cast<std::uint32_t>(r));
  for (std::uint32_t quarter = 0; quarter < 4; ++quarter) {
    for (std::uint32_t d = 0; d < (1U << 17); ++d) check((quarter << 30) + d - (1U << 16));
  }
  WARN("spdec_rng_sincos_turns: largest error sin " << worst_s << " ulp, cos " << worst_c
                                                    << " ulp");
  CHECK(worst_s <= 1.0);
  CHECK(worst_c <= 1.0);
}

TEST_CASE("the Gaussians agree with a double-precision Box-Muller of the same bits",
          "[rng][accuracy]") {
  // Error budget per value: ln <= 1 ulp, halved by the square root, plus the
  // square root's and the product's roundings (0.5 ulp each) and sin/cos's
  // 1 ulp: under 3 ulp of the value, i.e. 3 * 2^-24 * |z| <= 1.8e-7 |z|.
  // Near z = 0 (cos or sin near 0) the error is that of sin/cos times the
  // radius, bounded by the same relative figure. Asserted: 4e-7 max(1, |z|).
  double worst_rel = 0.0;
  double worst_ulp = 0.0;
  const std::uint32_t blocks = 1U << 18;
  for (std::uint32_t b = 0; b < blocks; ++b) {
    std::array<std::uint32_t, 4> r{};
    spdec_rng_bits4(31337, b % 97, b / 97, b, r.data());
    std::array<float, 4> z{};
    spdec_gaussian4(31337, b % 97, b / 97, b, z.data());
    std::array<double, 4> ref{};
    reference_box_muller(r[0], r[1], ref.data(), &ref[1]);
    reference_box_muller(r[2], r[3], &ref[2], &ref[3]);
    for (int j = 0; j < 4; ++j) {
      const double diff = std::fabs(static_cast<double>(z[j]) - ref[j]);
      const double rel = diff / std::max(1.0, std::fabs(ref[j]));
      worst_rel = std::max(worst_rel, rel);
      if (std::fabs(ref[j]) > 1e-30) worst_ulp = std::max(worst_ulp, ulp_error(z[j], ref[j]));
      if (rel > 4e-7) {
        CAPTURE(b, j, z[j], ref[j]);
        REQUIRE(rel <= 4e-7);
      }
    }
  }
  WARN("Gaussians vs double Box-Muller over 2^20 values: largest |z - ref| / max(1, |ref|) = "
       << worst_rel << ", largest error " << worst_ulp << " ulp");
}

#if defined(__SSE__)
TEST_CASE("flushing subnormals to zero changes nothing", "[rng][accuracy]") {
  // NVRTC's --use_fast_math implies --ftz=true (subnormal inputs and results
  // of float instructions become zero). The stream is immune because none of
  // its intermediates is ever subnormal; the same flush on the host (MXCSR
  // FTZ and DAZ) must therefore leave every value unchanged.
  const std::uint32_t blocks = 1U << 16;
  const std::uint32_t count = 1U << 21;
  const std::uint32_t first = float_bits(0x1p-33F);
  const std::uint32_t stride = (float_bits(1.0F) - first) / count;
  const auto run = [&] {
    std::vector<float> out;
    out.reserve(4ULL * blocks + 3ULL * count);
    for (std::uint32_t b = 0; b < blocks; ++b) {
      std::array<float, 4> z{};
      spdec_gaussian4(99, b, 5, b, z.data());
      out.insert(out.end(), z.begin(), z.end());
    }
    for (std::uint32_t i = 0; i < count; ++i) {
      out.push_back(spdec_rng_log(bits_float(first + i * stride)));
      float s = 0.0F;
      float c = 0.0F;
      spdec_rng_sincos_turns(i * 2053U, &s, &c);  // 2053 * 2^21 ~ 2^32: the whole circle
      out.push_back(s);
      out.push_back(c);
    }
    return out;
  };
  const std::vector<float> normal = run();
  const unsigned int csr = _mm_getcsr();
  _mm_setcsr(csr | 0x8040U);  // FTZ | DAZ
  const std::vector<float> flushed = run();
  _mm_setcsr(csr);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < normal.size(); ++i) {
    differ += float_bits(normal[i]) != float_bits(flushed[i]) ? 1 : 0;
  }
  CHECK(differ == 0U);
}
#endif

TEST_CASE("host throughput of the Gaussian stream (informational)", "[rng][bench]") {
  // Single-threaded, this build's flags (no -march). Printed, never asserted.
  using Clock = std::chrono::steady_clock;
  const std::uint32_t blocks = 1U << 20;
  float sink = 0.0F;
  std::uint32_t bits_sink = 0;

  auto t0 = Clock::now();
  for (std::uint32_t b = 0; b < blocks; ++b) {
    std::array<std::uint32_t, 4> r{};
    spdec_rng_bits4(7, 1, 2, b, r.data());
    bits_sink ^= r[0] ^ r[1] ^ r[2] ^ r[3];
  }
  const double philox_s = std::chrono::duration<double>(Clock::now() - t0).count();

  t0 = Clock::now();
  for (std::uint32_t b = 0; b < blocks; ++b) {
    std::array<float, 4> z{};
    spdec_gaussian4(7, 1, 2, b, z.data());
    sink += z[0] + z[1] + z[2] + z[3];
  }
  const double gauss_s = std::chrono::duration<double>(Clock::now() - t0).count();

  const double values = 4.0 * blocks;
  WARN("host, one thread: Philox4x32-10 " << values / philox_s / 1e6 << " M uint32/s; Gaussians "
                                          << values / gauss_s / 1e6 << " M/s (checksum " << sink
                                          << ", " << bits_sink << ")");
  CHECK(std::isfinite(sink));
}
