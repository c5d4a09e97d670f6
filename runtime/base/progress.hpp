// Progress of long work (training, sampling): on a terminal, one line
// redrawn in place — a bar, steps, rate, a value (the loss) and the time
// left; otherwise (logs, CI) a plain line every `every` steps and at the end.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace spdec::runtime {

class Progress {
 public:
  /// Work from `start` to `total` steps, drawn on `out` (a terminal when
  /// `terminal`; see is_terminal).
  Progress(std::string label, std::int64_t start, std::int64_t total, std::ostream& out,
           bool terminal, std::int64_t every = 100);
  /// `done` steps finished; `value` (e.g. the loss) shown when given.
  void update(std::int64_t done, std::optional<double> value = std::nullopt);
  /// Ends the line (terminal) or prints the last plain line.
  void finish();
  /// Lets a message be printed between updates: ends the bar's line
  /// (terminal; the next update draws a new one) and prints nothing in plain
  /// output, whose lines are whole already. The progress goes on, and
  /// finish() still prints its last line.
  void break_line();

  /// Whether stderr is a terminal (and TERM is not "dumb").
  [[nodiscard]] static bool stderr_is_terminal();
  /// "1:02:03" / "4:05" for a number of seconds.
  [[nodiscard]] static std::string clock(double seconds);

 private:
  [[nodiscard]] std::string line(std::int64_t done) const;

  std::string label_;
  std::int64_t start_;
  std::int64_t total_;
  std::ostream& out_;
  bool terminal_;
  std::int64_t every_;
  std::chrono::steady_clock::time_point began_;
  std::chrono::steady_clock::time_point drawn_;
  std::int64_t done_ = 0;
  std::optional<double> value_;
  bool finished_ = false;
  /// The last step whose plain line update() printed (finish() does not
  /// print it twice).
  std::int64_t printed_ = -1;
};

}  // namespace spdec::runtime
