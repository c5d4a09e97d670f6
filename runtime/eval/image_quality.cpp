#include "runtime/eval/image_quality.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace spdec::runtime {
namespace {

constexpr double kSsimSigma = 1.5;
constexpr std::int64_t kSsimWindow = 11;
constexpr double kMinMse = 1e-10;

/// Data range → [0, 1], double, after checking the shapes agree.
at::Tensor unit_range(const at::Tensor& x, config::ValueRange range) {
  const at::Tensor d = x.to(at::kCPU, at::kDouble);
  return range == config::ValueRange::minus_one_one ? (d + 1.0) * 0.5 : d;
}

void require_pair(const at::Tensor& a, const at::Tensor& b, const char* what) {
  if (a.dim() != 4 || a.sizes() != b.sizes() || a.size(0) == 0) {
    throw std::invalid_argument(std::string(what) +
                                ": expected two non-empty [N, C, H, W] sets "
                                "of one shape");
  }
}

/// The normalised Gaussian window [side, side] as a [C, 1, side, side] depthwise kernel.
at::Tensor gaussian_window(std::int64_t side, std::int64_t channels) {
  const at::Tensor r = at::arange(side, at::kDouble) - static_cast<double>(side - 1) / 2.0;
  at::Tensor g = (-(r * r) / (2.0 * kSsimSigma * kSsimSigma)).exp();
  g = g / g.sum();
  const at::Tensor window = at::outer(g, g);
  return window.expand({channels, 1, side, side}).contiguous();
}

}  // namespace

double mean_psnr(const at::Tensor& a, const at::Tensor& b, config::ValueRange range) {
  require_pair(a, b, "PSNR");
  const at::Tensor mse =
      (unit_range(a, range) - unit_range(b, range)).square().flatten(1).mean(1).clamp_min(kMinMse);
  return (-10.0 * mse.log10()).mean().item<double>();
}

double mean_ssim(const at::Tensor& a, const at::Tensor& b, config::ValueRange range) {
  require_pair(a, b, "SSIM");
  const at::Tensor x = unit_range(a, range);
  const at::Tensor y = unit_range(b, range);
  const std::int64_t smallest = std::min(x.size(2), x.size(3));
  const std::int64_t side = std::min(kSsimWindow, smallest % 2 == 1 ? smallest : smallest - 1);
  const std::int64_t channels = x.size(1);
  const at::Tensor w = gaussian_window(side, channels);
  const std::vector<std::int64_t> ones{1, 1};
  const std::vector<std::int64_t> zeros{0, 0};
  const auto filter = [&](const at::Tensor& t) {
    return at::conv2d(t, w, at::Tensor(), ones, zeros, ones, channels);
  };
  const double c1 = 0.01 * 0.01;
  const double c2 = 0.03 * 0.03;
  const at::Tensor mx = filter(x);
  const at::Tensor my = filter(y);
  const at::Tensor sxx = filter(x * x) - mx * mx;
  const at::Tensor syy = filter(y * y) - my * my;
  const at::Tensor sxy = filter(x * y) - mx * my;
  const at::Tensor map =
      ((2.0 * mx * my + c1) * (2.0 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2));
  return map.flatten(1).mean(1).mean().item<double>();
}

}  // namespace spdec::runtime
