#include "runtime/training/schedule_plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lang/evaluate.hpp"
#include "runtime/data/image_grid.hpp"

namespace spdec::runtime {
namespace {

constexpr std::int64_t kWidth = 640;
constexpr std::int64_t kHeight = 480;
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

namespace {

/// A panel of curves over [t0, T]: its place on the canvas and its y range.
struct Panel {
  double top;
  double height;
  double low;
  double high;
  [[nodiscard]] double x(int k) const {
    return static_cast<double>(kLeft) + static_cast<double>(kWidth - kLeft - kRight) * k / kSamples;
  }
  [[nodiscard]] double y(double v) const { return top + height * (high - v) / (high - low); }
};

/// Axes, grid lines at `ticks` (values of the panel's y) with their labels.
void draw_axes(Canvas& canvas, const Panel& panel, const std::vector<double>& ticks,
               const std::function<std::string(double)>& label, int& phase) {
  const Colour black{0, 0, 0};
  const Colour grey{215, 215, 215};
  for (const double tick : ticks) {
    canvas.line(kLeft, panel.y(tick), kWidth - kRight, panel.y(tick), grey, 1, 0, phase);
    const std::string text = label(tick);
    draw_text(canvas.pixels, text, kLeft - 8 - text_width(text), std::lround(panel.y(tick)) - 3, 0);
  }
  const double bottom = panel.top + panel.height;
  canvas.line(kLeft, panel.top, kLeft, bottom, black, 1, 0, phase);
  canvas.line(kLeft, bottom, kWidth - kRight, bottom, black, 1, 0, phase);
}

void draw_curve(Canvas& canvas, const Panel& panel, const std::vector<double>& curve,
                const Colour& colour, int thickness, int dash, int& phase) {
  for (int k = 0; k < kSamples; ++k) {
    canvas.line(panel.x(k), panel.y(curve[static_cast<std::size_t>(k)]), panel.x(k + 1),
                panel.y(curve[static_cast<std::size_t>(k) + 1]), colour, thickness, dash, phase);
  }
}

}  // namespace

at::Tensor schedule_plot(const LearnedSchedules& schedules) {
  Canvas canvas;
  std::vector<std::vector<double>> learned;
  std::vector<std::vector<double>> init;
  std::vector<std::vector<double>> ratio;  // log10(learned / init)
  double low = 1e300;
  double high = -1e300;
  double spread = 0.01;
  for (std::size_t i = 0; i < schedules.count(); ++i) {
    learned.push_back(log_curve(schedules, i, false));
    init.push_back(log_curve(schedules, i, true));
    ratio.emplace_back();
    for (std::size_t k = 0; k < learned.back().size(); ++k) {
      ratio.back().push_back(learned.back()[k] - init.back()[k]);
      spread = std::max(spread, std::abs(ratio.back().back()));
    }
    for (const auto* curve : {&learned.back(), &init.back()}) {
      low = std::min(low, *std::min_element(curve->begin(), curve->end()));
      high = std::max(high, *std::max_element(curve->begin(), curve->end()));
    }
  }
  low = std::floor(low);
  high = std::max(std::ceil(high), low + 1);
  int phase = 0;
  // Top: the rates on a log scale. Bottom: learned / init, where the change
  // shows (a log scale symmetric about 1).
  const Panel rates{static_cast<double>(kTop), 260, low, high};
  std::vector<double> decades;
  for (double d = low; d <= high + 1e-9; d += 1) decades.push_back(d);
  draw_axes(
      canvas, rates, decades, [](double d) { return fmt::format("1E{:+.0f}", d); }, phase);
  const Panel change{static_cast<double>(kTop) + 300, 110, -1.1 * spread, 1.1 * spread};
  draw_axes(
      canvas, change, {-spread, 0.0, spread},
      [](double v) { return fmt::format("X{:.3g}", std::pow(10.0, v)); }, phase);
  draw_text(canvas.pixels, "LEARNED / INIT", kLeft, std::lround(change.top) - 14, 0);
  const std::vector<double>& times = schedules.knot_times(0);
  const std::string t0 = fmt::format("t0 = {:.3g}", times.front());
  const std::string t1 = fmt::format("T = {:.3g}", times.back());
  draw_text(canvas.pixels, t0, kLeft, kHeight - kBottom + 8, 0);
  draw_text(canvas.pixels, t1, kWidth - kRight - text_width(t1), kHeight - kBottom + 8, 0);
  draw_text(canvas.pixels, "RATES: LEARNED (SOLID), INIT (DASHED)", kLeft, 8, 0);
  std::int64_t legend = kLeft;
  for (std::size_t i = 0; i < schedules.count(); ++i) {
    const Colour& colour = kColours[i % kColours.size()];
    draw_curve(canvas, rates, init[i], colour, 1, 4, phase);
    draw_curve(canvas, rates, learned[i], colour, 2, 0, phase);
    draw_curve(canvas, change, ratio[i], colour, 2, 0, phase);
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
