#include "runtime/base/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace spdec::runtime {
namespace {

constexpr int kBarWidth = 24;
/// Terminal redraws at most this often: a bar drawn per step would cost
/// more than a small step.
constexpr auto kRedraw = std::chrono::milliseconds(200);

}  // namespace

Progress::Progress(std::string label, std::int64_t start, std::int64_t total, std::ostream& out,
                   bool terminal, std::int64_t every)
    : label_(std::move(label)),
      start_(start),
      total_(total),
      out_(out),
      terminal_(terminal),
      every_(std::max<std::int64_t>(every, 1)),
      began_(std::chrono::steady_clock::now()),
      drawn_(began_),
      done_(start) {}

bool Progress::stderr_is_terminal() {
  const char* term = std::getenv("TERM");
  return isatty(STDERR_FILENO) != 0 && (term == nullptr || std::string_view(term) != "dumb");
}

std::string Progress::clock(double seconds) {
  const std::int64_t s = std::llround(std::max(seconds, 0.0));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string Progress::line(std::int64_t done) const {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began_).count();
  const auto finished = static_cast<double>(done - start_);
  const double rate = elapsed > 0 ? finished / elapsed : 0.0;
  const double left = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
  std::string text = label_ + " ";
  if (terminal_) {
    const auto filled = static_cast<int>(kBarWidth * static_cast<double>(done) /
                                         static_cast<double>(std::max<std::int64_t>(total_, 1)));
    text +=
        "[" + std::string(static_cast<std::size_t>(std::clamp(filled, 0, kBarWidth)), '#') +
        std::string(static_cast<std::size_t>(kBarWidth - std::clamp(filled, 0, kBarWidth)), '.') +
        "] ";
  }
  text += fmt::format("{}/{} {:.2f} it/s", done, total_, rate);
  if (value_) text += fmt::format(" loss {:.4g}", *value_);
  text += " elapsed " + clock(elapsed);
  if (done < total_) text += " ETA " + clock(left);
  return text;
}

void Progress::update(std::int64_t done, std::optional<double> value) {
  done_ = done;
  if (value) value_ = value;
  if (terminal_) {
    const auto now = std::chrono::steady_clock::now();
    if (now - drawn_ < kRedraw && done < total_) return;
    drawn_ = now;
    out_ << "\r" << line(done) << "\033[K" << std::flush;
  } else if (done % every_ == 0 && done < total_) {
    out_ << line(done) << std::endl;
    printed_ = done;
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (terminal_) {
    out_ << "\r" << line(done_) << "\033[K\n" << std::flush;
  } else if (printed_ != done_) {
    out_ << line(done_) << std::endl;
  }
}

void Progress::break_line() {
  if (!terminal_ || finished_) return;
  out_ << "\r" << line(done_) << "\033[K\n" << std::flush;
}

}  // namespace spdec::runtime
