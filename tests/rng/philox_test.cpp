// Philox4x32-10 as written in codegen/rng/philox.h against Random123: the
// published known-answer vectors and random inputs through r123::Philox4x32.
#include "codegen/rng/philox.h"

#include <Random123/philox.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>

namespace {

using Block = std::array<std::uint32_t, 4>;

Block spdec_philox(const Block& ctr, const std::array<std::uint32_t, 2>& key) {
  Block out{};
  spdec_philox4x32_10(ctr.data(), key.data(), out.data());
  return out;
}

Block random123_philox(const Block& ctr, const std::array<std::uint32_t, 2>& key) {
  const r123::Philox4x32_R<10> rng;
  const r123::Philox4x32_R<10>::ctr_type c = {{ctr[0], ctr[1], ctr[2], ctr[3]}};
  const r123::Philox4x32_R<10>::key_type k = {{key[0], key[1]}};
  const auto r = rng(c, k);
  return {r[0], r[1], r[2], r[3]};
}

}  // namespace

TEST_CASE("philox4x32-10 matches Random123's known-answer vectors", "[rng][philox]") {
  struct Kat {
    Block ctr;
    std::array<std::uint32_t, 2> key;
    Block expected;
  };
  // Random123 1.14, examples/kat_vectors: "philox4x32 10 <ctr> <key> <expected>".
  const std::array<Kat, 3> kats = {{
      {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
       {0x00000000, 0x00000000},
       {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  }};
  for (const Kat& kat : kats) {
    CAPTURE(kat.ctr, kat.key);
    CHECK(spdec_philox(kat.ctr, kat.key) == kat.expected);
    CHECK(random123_philox(kat.ctr, kat.key) == kat.expected);
  }
}

TEST_CASE("philox4x32-10 equals r123::Philox4x32_R<10> on random inputs", "[rng][philox]") {
  std::mt19937_64 gen(0x5eed5eedULL);
  for (int i = 0; i < 200000; ++i) {
    const auto w = [&gen] { return static_cast<std::uint32_t>(gen()); };
    const Block ctr = {w(), w(), w(), w()};
    const std::array<std::uint32_t, 2> key = {w(), w()};
    const Block a = spdec_philox(ctr, key);
    const Block b = random123_philox(ctr, key);
    if (a != b) {
      CAPTURE(i, ctr, key);
      REQUIRE(a == b);
    }
  }
}

TEST_CASE("the stream's counter and key layout", "[rng][philox]") {
  // key = {lo32(seed), hi32(seed)};
  // ctr = {block, lo32(step), lo32(sample), hi32(sample) ^ hi32(step)}.
  const std::uint64_t seed = 0x0123456789ABCDEFULL;
  const std::uint64_t sample = 0xFEDCBA9876543210ULL;
  const std::uint64_t step = 0x0000000700000005ULL;
  const std::uint32_t block = 0xDEADBEEFU;
  Block bits{};
  spdec_rng_bits4(seed, sample, step, block, bits.data());
  const Block expected = random123_philox(
      {block, 0x00000005U, 0x76543210U, 0xFEDCBA98U ^ 0x00000007U}, {0x89ABCDEFU, 0x01234567U});
  CHECK(bits == expected);
}
