// The project's one hash (lang/hash.hpp). Its values are stored on disk —
// kernel cache keys and checksums, run fingerprints in checkpoints — so these
// pinned values must never change.
#include "lang/hash.hpp"

#include <catch2/catch.hpp>

namespace lang = spdec::lang;

TEST_CASE("FNV-1a 64 matches the reference values", "[hash]") {
  CHECK(lang::fnv1a64("") == 0xcbf29ce484222325ULL);
  CHECK(lang::fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(lang::fnv1a64("foobar") == 0x85944171f73967e8ULL);
  // Bytes above 0x7f hash as unsigned (UTF-8 in a process file's text).
  CHECK(lang::fnv1a64("h\xc3\xa9llo \xe2\x88\x87") == 0xca87ca4768ecb697ULL);
  // A key of the shape process fingerprints hash.
  CHECK(lang::fnv1a64("perona_malik|decoupled|neumann|0|1|0.001") == 0x0840e86c4c2dffa8ULL);
  static_assert(lang::fnv1a64("a") == 0xaf63dc4c8601ec8cULL, "constexpr");
}

TEST_CASE("FNV-1a 64 fed in pieces equals fed at once", "[hash]") {
  lang::Fnv1a64 pieces;
  pieces.update("foo");
  pieces.update("");
  pieces.update("bar");
  CHECK(pieces.value() == lang::fnv1a64("foobar"));
}
