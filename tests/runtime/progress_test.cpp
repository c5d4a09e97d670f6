// The progress line of long work (runtime/base/progress.hpp): a message
// printed between updates (the knots, a sample grid) sits on its own line,
// and every step's line is printed once, the last one included, in plain
// output (a log file) and on a terminal.
#include "runtime/base/progress.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace {

using spdec::runtime::Progress;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

/// 300 steps, a line every 100, a message after steps 100 and 300 (the
/// training loop's knots print), then finish().
std::string run(bool terminal) {
  std::ostringstream out;
  Progress progress("train", 0, 300, out, terminal, 100);
  for (std::int64_t step = 1; step <= 300; ++step) {
    progress.update(step, 0.5);
    if (step % 100 == 0) {
      progress.break_line();
      out << "knots at " << step << "\n";
    }
  }
  progress.finish();
  return out.str();
}

std::int64_t count(const std::vector<std::string>& lines, const std::string& prefix) {
  std::int64_t n = 0;
  for (const std::string& line : lines) n += line.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("progress: plain output prints each step's line once around messages",
          "[runtime][progress]") {
  const std::vector<std::string> lines = lines_of(run(false));
  REQUIRE(lines.size() == 6);
  CHECK(lines[0].rfind("train 100/300 ", 0) == 0);
  CHECK(lines[1] == "knots at 100");
  CHECK(lines[2].rfind("train 200/300 ", 0) == 0);
  CHECK(lines[3] == "knots at 200");
  // The last step's line: printed by finish() after the loop (update() does
  // not print it), even though messages came between.
  CHECK(lines[4] == "knots at 300");
  CHECK(lines[5].rfind("train 300/300 ", 0) == 0);
}

TEST_CASE("progress: on a terminal every message starts a line of its own", "[runtime][progress]") {
  const std::string text = run(true);
  for (const std::int64_t step : {100, 200, 300}) {
    const std::string message = "knots at " + std::to_string(step);
    const auto at = text.find(message);
    REQUIRE(at != std::string::npos);
    CHECK((at > 0 && text[at - 1] == '\n'));
  }
  // The final line is drawn after the last message, and ends the output.
  const std::vector<std::string> lines = lines_of(text);
  REQUIRE(!lines.empty());
  CHECK(lines.back().find("300/300") != std::string::npos);
  CHECK(text.back() == '\n');
  CHECK(count(lines, "knots at") == 3);
}
