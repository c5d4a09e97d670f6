// The noise stream's contract (codegen/rng/philox.h): pinned values, how a
// value is addressed, independence from the batch, distinct streams for
// distinct (seed, sample, step), and the statistics of the Gaussians.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "codegen/rng/philox.h"
#include "tests/rng/rng_reference.hpp"

namespace {

using spdec::rng_test::float_bits;

using Bits = std::array<std::uint32_t, 4>;

Bits bits4(std::uint64_t seed, std::uint64_t sample, std::uint64_t step, std::uint32_t block) {
  Bits r{};
  spdec_rng_bits4(seed, sample, step, block, r.data());
  return r;
}

std::array<float, 4> gaussian4(std::uint64_t seed, std::uint64_t sample, std::uint64_t step,
                               std::uint32_t block) {
  std::array<float, 4> z{};
  spdec_gaussian4(seed, sample, step, block, z.data());
  return z;
}

// The noise of a batch of `count` samples starting at `first`, each of
// `values` values: what a kernel over an [N, C, H, W] state draws.
std::vector<float> batch_noise(std::uint64_t seed, std::uint64_t first, std::uint64_t count,
                               std::uint64_t step, std::uint64_t values) {
  std::vector<float> out(count * values);
  for (std::uint64_t k = 0; k < count; ++k) {
    for (std::uint64_t n = 0; n < values; ++n) {
      out[k * values + n] = spdec_gaussian(seed, first + k, step, n);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("the stream's golden values never change", "[rng][stream]") {
  // Generated once from this definition; a change here changes every noise
  // draw of every process and every stored experiment. Do not update these to
  // make the test pass: change the stream deliberately or not at all.
  struct Golden {
    std::uint64_t seed, sample, step;
    std::uint32_t block;
    Bits bits;
    Bits gaussian_bits;  // the float bit patterns of spdec_gaussian4
  };
  const std::array<Golden, 5> golden = {{
      {0x0ULL,
       0x0ULL,
       0x0ULL,
       0x0U,
       {0x6627E8D5U, 0xE169C58DU, 0xBC57AC4CU, 0x9B00DBD8U},
       {0x3F7DBB31U, 0xBF6CB6B0U, 0xBF1E1B9FU, 0xBEF6D1B2U}},
      {0x2AULL,
       0x3ULL,
       0x7ULL,
       0x1U,
       {0x80523D64U, 0x2A1840AAU, 0x9F702040U, 0x40706563U},
       {0x3F1A1412U, 0x3F813668U, 0xBC2BCF4AU, 0x3F791D75U}},
      {0x0123456789ABCDEFULL,
       0xFEDCBA9876543210ULL,
       0x700000005ULL,
       0xDEADBEEFU,
       {0xCDABA8E8U, 0xAF4C77AEU, 0xF3CB06B8U, 0x971837C4U},
       {0xBE8702C8U, 0xBF1B5AABU, 0xBE8704ABU, 0xBE2BE0DFU}},
      {0xFFFFFFFFFFFFFFFFULL,
       0xFFFFFFFFFFFFFFFFULL,
       0xFFFFFFFFFFFFFFFFULL,
       0xFFFFFFFFU,
       {0xEEC03824U, 0xE4C1E0F1U, 0x3D16E5CAU, 0xA00E8336U},
       {0x3E960F54U, 0xBE6D1AF6U, 0xBF990115U, 0xBF996E3CU}},
      {20260101ULL,
       63ULL,
       999ULL,
       196U,
       {0x61435582U, 0xA3D74719U, 0x81226C00U, 0xFD9A1E33U},
       {0xBF6303E3U, 0xBF8936A7U, 0x3F957CA3U, 0xBD8CEE99U}},
  }};
  for (const Golden& g : golden) {
    CAPTURE(g.seed, g.sample, g.step, g.block);
    CHECK(bits4(g.seed, g.sample, g.step, g.block) == g.bits);
    const std::array<float, 4> z = gaussian4(g.seed, g.sample, g.step, g.block);
    const Bits zb = {float_bits(z[0]), float_bits(z[1]), float_bits(z[2]), float_bits(z[3])};
    CHECK(zb == g.gaussian_bits);
  }
}

TEST_CASE("spdec_gaussian(n) is element n % 4 of spdec_gaussian4(n / 4)", "[rng][stream]") {
  const std::uint64_t seed = 77;
  const std::uint64_t sample = 5;
  const std::uint64_t step = 123;
  std::vector<std::uint64_t> blocks;
  for (std::uint64_t b = 0; b < 1000; ++b) blocks.push_back(b);
  for (std::uint64_t b : {0xFFFFFULL, 0x7FFFFFFFULL, 0x80000000ULL, 0xFFFFFFFFULL}) {
    blocks.push_back(b);  // n up to 2^34 - 1
  }
  for (const std::uint64_t b : blocks) {
    const auto z = gaussian4(seed, sample, step, static_cast<std::uint32_t>(b));
    for (std::uint64_t j = 0; j < 4; ++j) {
      const float one = spdec_gaussian(seed, sample, step, 4 * b + j);
      if (float_bits(one) != float_bits(z[j])) {
        CAPTURE(b, j);
        REQUIRE(float_bits(one) == float_bits(z[j]));
      }
    }
  }
  // (z0, z1) come from (r0, r1), (z2, z3) from (r2, r3).
  const Bits r = bits4(seed, sample, step, 9);
  const auto z = gaussian4(seed, sample, step, 9);
  float a = 0.0F;
  float b = 0.0F;
  float c = 0.0F;
  float d = 0.0F;
  spdec_rng_box_muller(r[0], r[1], &a, &b);
  spdec_rng_box_muller(r[2], r[3], &c, &d);
  CHECK(float_bits(z[0]) == float_bits(a));
  CHECK(float_bits(z[1]) == float_bits(b));
  CHECK(float_bits(z[2]) == float_bits(c));
  CHECK(float_bits(z[3]) == float_bits(d));
}

TEST_CASE("a sample's noise does not depend on its batch", "[rng][stream]") {
  // A state [N, C, H, W] = [6, 3, 5, 7]: sample k's values are those of
  // (seed, k, step) whether it is drawn in a batch of 6 starting at 0, alone,
  // or in a batch starting at k.
  const std::uint64_t values = 3ULL * 5 * 7;
  const std::uint64_t seed = 1234;
  const std::uint64_t step = 17;
  const std::vector<float> batch = batch_noise(seed, 0, 6, step, values);
  for (std::uint64_t k = 0; k < 6; ++k) {
    const std::vector<float> alone = batch_noise(seed, k, 1, step, values);
    const std::vector<float> shifted = batch_noise(seed, k, 6 - k, step, values);
    for (std::uint64_t n = 0; n < values; ++n) {
      REQUIRE(float_bits(alone[n]) == float_bits(batch[k * values + n]));
      REQUIRE(float_bits(shifted[n]) == float_bits(batch[k * values + n]));
    }
  }
}

TEST_CASE("distinct seeds, samples and steps give distinct streams", "[rng][stream]") {
  struct Draw {
    std::uint64_t seed, sample, step;
  };
  const std::uint64_t two32 = 1ULL << 32;
  // Pairs that differ in one coordinate, in its low or high 32-bit word,
  // including steps >= 2^32 (with samples < 2^32) and samples >= 2^32 (with
  // steps < 2^32), the cases the layout keeps apart.
  const std::vector<std::pair<Draw, Draw>> pairs = {
      {{0, 0, 0}, {1, 0, 0}},
      {{0, 0, 0}, {two32, 0, 0}},
      {{5, 0, 0}, {5, 1, 0}},
      {{5, 0, 0}, {5, two32, 0}},
      {{5, 3, 0}, {5, 3, 1}},
      {{5, 3, 0}, {5, 3, two32}},
      {{5, 3, two32}, {5, 3, 2 * two32}},
      {{5, two32, 9}, {5, 2 * two32, 9}},
      {{5, 1, 2}, {5, 2, 1}},  // sample and step swapped
      {{1, 2, 0}, {2, 1, 0}},  // seed and sample swapped
      {{7, 7, 7}, {7, 7 + two32, 7}},
  };
  const std::uint32_t blocks = 256;
  for (const auto& [a, b] : pairs) {
    CAPTURE(a.seed, a.sample, a.step, b.seed, b.sample, b.step);
    int equal_words = 0;
    for (std::uint32_t block = 0; block < blocks; ++block) {
      const Bits ra = bits4(a.seed, a.sample, a.step, block);
      const Bits rb = bits4(b.seed, b.sample, b.step, block);
      for (int j = 0; j < 4; ++j) equal_words += ra[j] == rb[j] ? 1 : 0;
    }
    // Independent 32-bit words agree with probability 2^-32 each: 1024 words
    // give 2.4e-7 expected coincidences, so any at all means the inputs collide.
    CHECK(equal_words == 0);
  }
  // Within one stream, different blocks are different counters.
  CHECK(bits4(1, 2, 3, 0) != bits4(1, 2, 3, 1));
}

TEST_CASE("the one documented collision: both sample and step at or above 2^32", "[rng][stream]") {
  // hi32(step) is folded into the high word of the sample's counter slot, so
  // (sample = 2^32, step = 0) and (sample = 0, step = 2^32) are the same draw.
  // The contract excludes it (step < 2^32 or sample < 2^32); this pins the
  // layout.
  const std::uint64_t two32 = 1ULL << 32;
  CHECK(bits4(3, two32, 0, 11) == bits4(3, 0, two32, 11));
  CHECK(bits4(3, two32 + 4, 9, 11) == bits4(3, 4, two32 + 9, 11));
}

TEST_CASE("the uniform is positive and at most 1, the Gaussians are bounded", "[rng][stream]") {
  CHECK(spdec_rng_uniform(0U) == 0x1p-33F);
  CHECK(spdec_rng_uniform(1U) == 0x1.8p-32F);
  CHECK(spdec_rng_uniform(0xFFFFFFFFU) == 1.0F);
  CHECK(spdec_rng_uniform(0x7FFFFFFFU) == 0.5F);  // float(2^31 - 1) rounds to 2^31
  float prev = 0.0F;
  for (std::uint64_t r = 0; r <= 0xFFFFFFFFULL; r += 0xFFFFF) {
    const float u = spdec_rng_uniform(static_cast<std::uint32_t>(r));
    REQUIRE(u > prev);
    REQUIRE(u <= 1.0F);
    prev = u;
  }
  // The largest radius: u = 2^-33, sqrt(66 ln 2) = 6.7637...
  const double max_radius = std::sqrt(66.0 * std::log(2.0));
  float z0 = 0.0F;
  float z1 = 0.0F;
  spdec_rng_box_muller(0U, 0U, &z0, &z1);
  CHECK(static_cast<double>(z0) == Approx(max_radius).epsilon(1e-6));
  CHECK(z1 == 0.0F);
  spdec_rng_box_muller(0U, 0x40000000U, &z0, &z1);  // theta = pi/2
  CHECK(z0 == 0.0F);
  CHECK(static_cast<double>(z1) == Approx(max_radius).epsilon(1e-6));
  // u = 1: radius 0 (+0, never -0).
  spdec_rng_box_muller(0xFFFFFFFFU, 0x12345678U, &z0, &z1);
  CHECK(float_bits(z0) == 0U);
  CHECK(float_bits(z1) == 0U);
}

TEST_CASE("moments of 10^6 Gaussians", "[rng][stream]") {
  // 2^20 draws: 2^18 blocks of one sample, plus the same count spread over
  // 4096 samples x 64 steps, so the sample and step words are exercised too.
  // For n i.i.d. N(0, 1) draws the sample moments have standard deviations
  // sqrt(1/n) (mean), sqrt(2/n) (variance), sqrt(15/n) (third moment,
  // E z^6 = 15) and sqrt(96/n) (fourth moment: E z^8 - (E z^4)^2 = 105 - 9).
  // Every check allows 5 of them: a correct generator fails one with
  // probability below 6e-7 (and the seeds are fixed, so the test is
  // deterministic anyway); a wrong scale, offset or shape (e.g. a uniform's
  // kurtosis of 1.8, or a variance off by 1%) is caught.
  const auto run = [](const char* what, const std::vector<float>& z) {
    const auto n = static_cast<double>(z.size());
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    double s4 = 0;
    double lag = 0;
    std::uint64_t tail3 = 0;
    for (std::size_t i = 0; i < z.size(); ++i) {
      const auto v = static_cast<double>(z[i]);
      s1 += v;
      s2 += v * v;
      s3 += v * v * v;
      s4 += v * v * v * v;
      if (std::fabs(v) > 3.0) ++tail3;
      if (i + 1 < z.size()) lag += v * static_cast<double>(z[i + 1]);
    }
    const double mean = s1 / n;
    const double m2 = s2 / n;
    const double m3 = s3 / n;
    const double m4 = s4 / n;
    const double corr = lag / (n - 1);
    // P(|z| > 3) = 0.0026998; binomial standard deviation sqrt(p (1 - p) / n).
    const double p3 = 0.0026997960632601866;
    const double tail = static_cast<double>(tail3) / n;
    INFO(what << ": mean " << mean << ", E z^2 " << m2 << ", E z^3 " << m3 << ", E z^4 " << m4
              << ", lag-1 correlation " << corr << ", P(|z|>3) " << tail);
    CHECK(std::fabs(mean) < 5.0 * std::sqrt(1.0 / n));
    CHECK(std::fabs(m2 - 1.0) < 5.0 * std::sqrt(2.0 / n));
    CHECK(std::fabs(m3) < 5.0 * std::sqrt(15.0 / n));
    CHECK(std::fabs(m4 - 3.0) < 5.0 * std::sqrt(96.0 / n));
    CHECK(std::fabs(corr) < 5.0 * std::sqrt(1.0 / n));
    CHECK(std::fabs(tail - p3) < 5.0 * std::sqrt(p3 * (1 - p3) / n));
  };

  const std::uint32_t blocks = 1U << 18;
  std::vector<float> z;
  z.reserve(4ULL * blocks);
  for (std::uint32_t b = 0; b < blocks; ++b) {
    const auto g = gaussian4(2024, 0, 0, b);
    z.insert(z.end(), g.begin(), g.end());
  }
  run("one sample", z);

  // Across samples and steps at a fixed position: what one pixel sees.
  z.clear();
  for (std::uint64_t step = 0; step < 64; ++step) {
    for (std::uint64_t sample = 0; sample < 4096; ++sample) {
      const auto g = gaussian4(99, sample, step, 3);
      z.insert(z.end(), g.begin(), g.end());
    }
  }
  run("across samples and steps", z);
}
