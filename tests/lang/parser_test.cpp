// Grammar soundness, number literals, positions, recovery and hostile input.
#include "lang/parser.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <tao/pegtl/contrib/analyze.hpp>

#include "lang/grammar.hpp"
#include "lang/number.hpp"
#include "tests/lang/test_support.hpp"

using spdec::lang::Diagnostics;
using spdec::lang::parse;
using spdec::lang::parse_number_literal;
using spdec::test::check_text;
using spdec::test::source;

TEST_CASE("the grammar has no left recursion or empty loops", "[grammar]") {
  // analyze() returns the number of problems found (printing each).
  CHECK(tao::pegtl::analyze<spdec::lang::grammar::statement>() == 0);
  CHECK(tao::pegtl::analyze<spdec::lang::grammar::expr>() == 0);
}

TEST_CASE("C number literals", "[grammar][number]") {
  struct Case {
    const char* text;
    double value;
  };
  const Case cases[] = {
      {"2", 2},      {"2.", 2},       {".5", 0.5},      {"1e-3", 1e-3},   {"1.5E+2", 150},
      {"0x1F", 31},  {"0X1f", 31},    {"0x1.8p3", 12},  {"0x1p-2", 0.25}, {"0b101", 5},
      {"017", 15},   {"0", 0},        {"1.0f", 1},      {"10UL", 10},     {"10llu", 10},
      {"2.5L", 2.5}, {"1'000", 1000}, {"0x1.8p3f", 12}, {"1e-400", 0},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    const auto literal = parse_number_literal(c.text);
    REQUIRE(literal.ok);
    CHECK(literal.value == c.value);
  }
  CHECK(parse_number_literal("017").octal);
  CHECK_FALSE(parse_number_literal("17").octal);
  for (const char* bad :
       {"1e", "0x", "1.2.3", "08", "0b2", "2x", "1e+", "0x1.8", "1''0", "1e999", "'1", "0xg"}) {
    INFO(bad);
    const auto literal = parse_number_literal(bad);
    CHECK_FALSE(literal.ok);
    CHECK_FALSE(literal.error.empty());
  }
}

TEST_CASE("syntax errors are positioned and the parser resumes at the next statement",
          "[grammar]") {
  const auto r = check_text(
      "process p\nparam a 1\nparam b = (1 + 2\nparam c = 1.2.3\n"
      "drift = a + b)\nparam q = a ** 2\n");
  std::vector<std::string> seen;
  for (const auto& d : r.diagnostics.all()) {
    seen.push_back(d.code + "@" + std::to_string(d.start().line) + ":" +
                   std::to_string(d.start().column));
  }
  // Five statements with mistakes, five errors: recovery loses none.
  CHECK(seen ==
        std::vector<std::string>{"E002@2:9", "E003@3:11", "E005@4:11", "E003@5:14", "E002@6:14"});
}

TEST_CASE("a diagnostic shows the line, a caret under the whole span and a hint", "[diagnostics]") {
  const auto r = check_text("process p\nparam alpha1 = 2\ndrift = alpah1 * lap(u)\n");
  REQUIRE(r.first_error() != nullptr);
  const std::string text = spdec::lang::render(*r.first_error());
  CHECK(text ==
        "test.spde:3:9: error[E010]: unknown name `alpah1`\n"
        "  |\n"
        "3 | drift = alpah1 * lap(u)\n"
        "  |         ^~~~~~\n"
        "  = hint: did you mean `alpha1`?\n");
}

namespace {

template <typename F>
double seconds(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("hostile input gives diagnostics, never a crash", "[grammar][robustness]") {
  SECTION("empty file and comments only: no process") {
    for (const char* text : {"", "# nothing\n// here\n", "\n\n\n"}) {
      const auto r = check_text(text);
      REQUIRE(r.first_error() != nullptr);
      CHECK(r.first_error()->code == "E040");
      CHECK(r.first_error()->start().line == 1);
    }
  }
  SECTION("binary junk") {
    std::string junk;
    for (int i = 0; i < 4096; ++i) {
      junk += static_cast<char>((i * 7919 + 13) % 256);
    }
    const auto r = check_text(junk);
    REQUIRE(r.first_error() != nullptr);
    CHECK(r.first_error()->code == "E006");
  }
  SECTION("a NUL byte is reported where it is") {
    const auto r = check_text(std::string("process p\nparam a = 1\0", 22));
    REQUIRE(r.first_error() != nullptr);
    CHECK(r.first_error()->code == "E006");
    CHECK(r.first_error()->start().line == 2);
  }
  SECTION("deep nesting stops at the limit, at the parenthesis past it") {
    const std::string text =
        "process p\nparam a = " + std::string(100000, '(') + "1" + std::string(100000, ')') + "\n";
    const auto r = check_text(text);
    REQUIRE(r.first_error() != nullptr);
    CHECK(r.first_error()->code == "E004");
    CHECK(r.first_error()->start().column == 11 + spdec::lang::grammar::kMaxNesting);
  }
  SECTION("long unary chains are nesting too") {
    const auto r = check_text("process p\nparam a = " + std::string(50000, '-') + "1\n");
    REQUIRE(r.first_error() != nullptr);
    CHECK(r.first_error()->code == "E004");
  }
  SECTION("a 1 MB file of statements checks in reasonable time") {
    std::string text = "process big\n";
    for (int i = 0; text.size() < (1U << 20U); ++i) {
      text += "param p" + std::to_string(i) + " = " + std::to_string(i) + " * 2 + 1\n";
    }
    text += "drift = 0\ndiffusion = 1\ntime T = 1, dt = 0.01\n";
    spdec::test::CheckResult r;
    // Not a timing test: the bound only catches quadratic behaviour.
    CHECK(seconds([&] { r = check_text(text); }) < 60.0);
    CHECK(r.process.has_value());
  }
  SECTION("a 1 MB line of junk tokens reports few errors") {
    std::string text = "process p\nparam a = 1 ";
    while (text.size() < (1U << 20U)) {
      text += "@ ";
    }
    const auto r = check_text(text);
    CHECK(r.diagnostics.error_count() >= 1);
    CHECK(r.diagnostics.error_count() <= spdec::lang::Diagnostics::kMaxErrors);
    CHECK(spdec::lang::render(*r.first_error()).size() < 1000);  // the line is cut around the caret
  }
  SECTION("input over the size limit is refused before parsing") {
    const auto r = check_text(std::string(spdec::lang::kMaxSourceBytes + 1, ' '));
    REQUIRE(r.first_error() != nullptr);
    CHECK(r.first_error()->code == "E007");
  }
  SECTION("a function that doubles at every level is an error, not a hang") {
    std::string text = "process p\nf0(x) = x + 1\n";
    for (int i = 1; i <= 40; ++i) {
      text += "f" + std::to_string(i) + "(x) = f" + std::to_string(i - 1) + "(x) * f" +
              std::to_string(i - 1) + "(x)\n";
    }
    text += "drift = f40(u)\ndiffusion = 1\ntime T = 1, dt = 0.1\n";
    spdec::test::CheckResult r;
    CHECK(seconds([&] { r = check_text(text); }) < 30.0);
    REQUIRE(r.first_error() != nullptr);
    CHECK(r.first_error()->code == "E016");
  }
}

TEST_CASE("the module keeps every comment with its text", "[grammar]") {
  Diagnostics diagnostics;
  const auto module =
      parse(source("# head\nprocess p  // trail\nparam a = (1 +  # inner\n 2)\n"), diagnostics);
  REQUIRE(module.has_value());
  REQUIRE(module->comments.size() == 3);
  CHECK(module->comments[0].text == " head");
  CHECK(module->comments[1].text == " trail");
  CHECK(module->comments[2].text == " inner");
  CHECK(module->statements.size() == 2);
}
