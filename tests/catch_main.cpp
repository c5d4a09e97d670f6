// The one Catch2 main of the test suite: compiled once (object library
// spdec_catch_main) and linked into every test executable made by
// spdec_add_catch_test().
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
