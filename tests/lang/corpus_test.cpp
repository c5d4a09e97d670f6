// The corpora: every bad file gives its expected first error at the expected
// line:column; every good file and every library process checks cleanly;
// every fuzzer regression input is handled without an exception.
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lang/parser.hpp"
#include "tests/lang/test_support.hpp"

using spdec::test::check_path;
using spdec::test::files_in;
using spdec::test::source_dir;

namespace {

struct Expectation {
  std::string code;
  std::size_t line = 0;
  std::size_t column = 0;
  std::vector<std::string> hints;  ///< `# hint: TEXT`: each is part of the error's hint
  std::vector<std::pair<std::size_t, std::size_t>> notes;  ///< `# note: LINE:COL`, in order
};

/// The `# hint:` and `# note:` lines right after the expect line: what the
/// error must say besides its code, for mistakes whose fix is in the hint.
void read_details(std::istream& in, Expectation& expected) {
  std::string line;
  while (std::getline(in, line)) {
    const std::string hint = "# hint: ";
    const std::string note = "# note: ";
    if (line.starts_with(hint)) {
      expected.hints.push_back(line.substr(hint.size()));
    } else if (line.starts_with(note)) {
      std::istringstream words(line.substr(note.size()));
      std::size_t at_line = 0;
      std::size_t at_column = 0;
      char colon = 0;
      words >> at_line >> colon >> at_column;
      if (!words || colon != ':') {
        FAIL("`# note:` needs LINE:COL, found: " << line);
      }
      expected.notes.emplace_back(at_line, at_column);
    } else {
      return;
    }
  }
}

/// `# expect: E0NN LINE:COL` on the first line; an empty file has nowhere to
/// say it, and expects E040 (no `process`) at 1:1.
Expectation expectation_of(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  if (first.empty() && std::filesystem::file_size(path) == 0) {
    return {"E040", 1, 1, {}, {}};
  }
  // (std::regex would do, but GCC 12 warns inside it under ASan at -O2.)
  std::istringstream words(first);
  std::string hash;
  std::string keyword;
  std::string code;
  std::size_t line = 0;
  std::size_t column = 0;
  char colon = 0;
  words >> hash >> keyword >> code >> line >> colon >> column;
  if (!words || hash != "#" || keyword != "expect:" || code.size() != 4 || code[0] != 'E' ||
      colon != ':') {
    FAIL("no `# expect: E0NN LINE:COL` line in " << path);
  }
  Expectation expected{code, line, column, {}, {}};
  read_details(in, expected);
  return expected;
}

}  // namespace

TEST_CASE("every bad corpus file gives its expected first error", "[corpus]") {
  const auto files = files_in(source_dir() / "tests/lang/corpus/bad");
  REQUIRE(files.size() >= 40);
  for (const auto& path : files) {
    INFO(path.filename().string());
    const Expectation expected = expectation_of(path);
    const auto result = check_path(path);
    CHECK_FALSE(result.process.has_value());
    const auto* error = result.first_error();
    REQUIRE(error != nullptr);
    const auto at = error->start();
    CHECK(error->code == expected.code);
    CHECK(at.line == expected.line);
    CHECK(at.column == expected.column);
    for (const std::string& hint : expected.hints) {
      CHECK_THAT(error->hint, Catch::Contains(hint));
    }
    std::vector<std::pair<std::size_t, std::size_t>> notes;
    for (const auto& d : result.diagnostics.all()) {
      if (d.severity == spdec::lang::Severity::note) {
        notes.emplace_back(d.start().line, d.start().column);
      }
    }
    CHECK(notes == expected.notes);
  }
}

TEST_CASE("every good corpus file and every library process checks", "[corpus]") {
  auto files = files_in(source_dir() / "tests/lang/corpus/good");
  const auto library = files_in(source_dir() / "library");
  REQUIRE(files.size() >= 10);
  REQUIRE(library.size() >= 13);
  files.insert(files.end(), library.begin(), library.end());
  for (const auto& path : files) {
    INFO(path.string());
    const auto result = check_path(path);
    CHECK(result.process.has_value());
    CHECK(result.first_error() == nullptr);
  }
}

TEST_CASE("fuzzer regression inputs are handled without exceptions", "[corpus]") {
  for (const auto& path : files_in(source_dir() / "tests/lang/corpus/regressions")) {
    INFO(path.string());
    CHECK_NOTHROW(check_path(path));
  }
}
