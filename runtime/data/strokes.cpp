#include "runtime/data/strokes.hpp"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <stdexcept>

namespace spdec::runtime {

int default_stroke_width(std::int64_t side) {
  const auto tenth = static_cast<int>(side / 10);
  return std::max(3, tenth % 2 == 1 ? tenth : tenth + 1);
}

at::Tensor median_filter(const at::Tensor& images, int width) {
  if (images.dim() != 4) throw std::invalid_argument("median_filter: needs [N, C, H, W]");
  if (width < 1 || width % 2 == 0) {
    throw std::invalid_argument("median_filter: the width must be odd and positive");
  }
  if (width == 1) return images.clone();
  const at::NoGradGuard no_grad;
  const int r = width / 2;
  const at::Tensor padded = at::replication_pad2d(images.to(at::kFloat), {r, r, r, r});
  // [N, C, H, W, w, w] windows; an odd count has one middle value, so the
  // median is exact (no averaging of two middles).
  const at::Tensor windows = padded.unfold(2, width, 1).unfold(3, width, 1);
  return std::get<0>(windows.flatten(4).median(-1)).contiguous();
}

at::Tensor stroke_painting(const at::Tensor& images, const StrokeOptions& options) {
  if (options.levels < 2) throw std::invalid_argument("stroke_painting: levels must be >= 2");
  const double lo = options.range == config::ValueRange::zero_one ? 0.0 : -1.0;
  const double hi = 1.0;
  const at::Tensor smooth = median_filter(images, options.width);
  const double step = (hi - lo) / (options.levels - 1);
  return ((smooth.clamp(lo, hi) - lo) / step).round() * step + lo;
}

}  // namespace spdec::runtime
