#include "runtime/training/schedule_plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "lang/evaluate.hpp"
#include "runtime/data/image_grid.hpp"

namespace spdec::runtime {
namespace {

constexpr std::int64_t kWidth = 640;
constexpr std::int64_t kHeight = 400;
constexpr std::int64_t kLeft = 70;  // room for the y labels
constexpr std::int64_t kRight = 20;
constexpr std::int64_t kTop = 40;  // the title and legend
constexpr std::int64_t kBottom = 30;
constexpr int kSamples = 400;

using Colour = std::array<std::uint8_t, 3>;
constexpr std::array<Colour, 4> kColours{
    {{31, 119, 180}, {214, 39, 40}, {44, 160, 44}, {148, 103, 189}}};

struct Canvas {
  at::Tensor pixels = at::full({3, kHeight, kWidth}, 255, at::TensorOptions().dtype(at::kByte));

  void dot(std::int64_t x, std::int64_t y, const Colour& colour, int thickness) {
    auto a = pixels.accessor<std::uint8_t, 3>();
    for (std::int64_t dy = 0; dy < thickness; ++dy) {
      for (std::int64_t dx = 0; dx < thickness; ++dx) {
        const std::int64_t px = x + dx;
        const std::int64_t py = y + dy;
        if (px < 0 || py < 0 || px >= kWidth || py >= kHeight) continue;
        for (int c = 0; c < 3; ++c) a[c][py][px] = colour[static_cast<std::size_t>(c)];
      }
    }
  }

  /// A straight segment, dot by dot; `dash` > 0 leaves gaps of that period.
  void line(double x0, double y0, double x1, double y1, const Colour& colour, int thickness,
            int dash, int& phase) {
    const int steps =
        std::max(1, static_cast<int>(std::ceil(std::max(std::abs(x1 - x0), std::abs(y1 - y0)))));
    for (int s = 0; s <= steps; ++s, ++phase) {
      if (dash > 0 && (phase / dash) % 2 == 1) continue;
      const double w = static_cast<double>(s) / steps;
      dot(std::lround(x0 + w * (x1 - x0)), std::lround(y0 + w * (y1 - y0)), colour, thickness);
    }
  }
};

/// log10 of a rate over t at kSamples + 1 points.
std::vector<double> log_curve(const LearnedSchedules& schedules, std::size_t i, bool init) {
  const std::vector<double>& times = schedules.knot_times(i);
  const at::Tensor t = at::linspace(times.front(), times.back(), kSamples + 1,
                                    at::TensorOptions().dtype(at::kDouble));
  std::vector<double> out;
  const at::NoGradGuard no_grad;
  for (std::int64_t k = 0; k <= kSamples; ++k) {
    const double tk = t[k].item<double>();
    const double value = init ? lang::interpolate_log_linear(times, schedules.init_values(i), tk)
                              : schedules.rate(i, t.narrow(0, k, 1)).item<double>();
    out.push_back(std::log10(value));
  }
  return out;
}

}  // namespace

at::Tensor schedule_plot(const LearnedSchedules& schedules) {
  Canvas canvas;
  std::vector<std::vector<double>> learned;
  std::vector<std::vector<double>> init;
  double low = 1e300;
  double high = -1e300;
  for (std::size_t i = 0; i < schedules.count(); ++i) {
    learned.push_back(log_curve(schedules, i, false));
    init.push_back(log_curve(schedules, i, true));
    for (const auto* curve : {&learned.back(), &init.back()}) {
      low = std::min(low, *std::min_element(curve->begin(), curve->end()));
      high = std::max(high, *std::max_element(curve->begin(), curve->end()));
    }
  }
  low = std::floor(low);
  high = std::max(std::ceil(high), low + 1);
  const double plot_w = static_cast<double>(kWidth - kLeft - kRight);
  const double plot_h = static_cast<double>(kHeight - kTop - kBottom);
  const auto px = [&](int k) { return static_cast<double>(kLeft) + plot_w * k / kSamples; };
  const auto py = [&](double v) {
    return static_cast<double>(kTop) + plot_h * (high - v) / (high - low);
  };
  // Axes, a faint grid line per decade and its label.
  const Colour black{0, 0, 0};
  const Colour grey{215, 215, 215};
  int phase = 0;
  for (double decade = low; decade <= high + 1e-9; decade += 1) {
    canvas.line(kLeft, py(decade), kWidth - kRight, py(decade), grey, 1, 0, phase);
    const std::string label = fmt::format("1E{:+.0f}", decade);
    draw_text(canvas.pixels, label, kLeft - 8 - text_width(label), std::lround(py(decade)) - 3, 0);
  }
  canvas.line(kLeft, kTop, kLeft, kHeight - kBottom, black, 1, 0, phase);
  canvas.line(kLeft, kHeight - kBottom, kWidth - kRight, kHeight - kBottom, black, 1, 0, phase);
  const std::vector<double>& times = schedules.knot_times(0);
  const std::string t0 = fmt::format("t0 = {:.3g}", times.front());
  const std::string t1 = fmt::format("T = {:.3g}", times.back());
  draw_text(canvas.pixels, t0, kLeft, kHeight - kBottom + 8, 0);
  draw_text(canvas.pixels, t1, kWidth - kRight - text_width(t1), kHeight - kBottom + 8, 0);
  draw_text(canvas.pixels, "RATES: LEARNED (SOLID), INIT (DASHED)", kLeft, 8, 0);
  std::int64_t legend = kLeft;
  for (std::size_t i = 0; i < schedules.count(); ++i) {
    const Colour& colour = kColours[i % kColours.size()];
    for (int k = 0; k < kSamples; ++k) {
      canvas.line(px(k), py(init[i][k]), px(k + 1), py(init[i][k + 1]), colour, 1, 4, phase);
    }
    for (int k = 0; k < kSamples; ++k) {
      canvas.line(px(k), py(learned[i][k]), px(k + 1), py(learned[i][k + 1]), colour, 2, 0, phase);
    }
    canvas.line(legend, 24, legend + 16, 24, colour, 2, 0, phase);
    draw_text(canvas.pixels, schedules.name(i) + "(t)", legend + 20, 21, 0);
    legend += 40 + text_width(schedules.name(i) + "(t)");
  }
  return canvas.pixels;
}

void write_schedule_plot(const std::filesystem::path& file, const LearnedSchedules& schedules) {
  write_png(file, schedule_plot(schedules));
}

}  // namespace spdec::runtime
