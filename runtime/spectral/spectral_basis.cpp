#include "runtime/spectral/spectral_basis.hpp"

#include <cmath>
#include <map>
#include <mutex>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>

namespace spdec::runtime {

namespace {

void check_size(std::int64_t n, const char* what) {
  if (n < 1) {
    throw std::invalid_argument(std::string(what) + " must be at least 1, got " +
                                std::to_string(n));
  }
}

/// D in double on the CPU, straight from the formula.
at::Tensor build_dct_matrix(std::int64_t n) {
  at::Tensor d = at::empty({n, n}, at::TensorOptions().dtype(at::kDouble));
  auto a = d.accessor<double, 2>();
  const double nd = static_cast<double>(n);
  for (std::int64_t k = 0; k < n; ++k) {
    const double scale = std::sqrt((k == 0 ? 1.0 : 2.0) / nd);
    for (std::int64_t m = 0; m < n; ++m) {
      a[k][m] = scale * std::cos(std::numbers::pi * static_cast<double>(k) *
                                 (static_cast<double>(m) + 0.5) / nd);
    }
  }
  return d;
}

/// 4 sin²(π k / period) for k = 0 … n − 1, double.
at::Tensor sin2(std::int64_t n, double period) {
  at::Tensor k = at::arange(n, at::TensorOptions().dtype(at::kDouble));
  at::Tensor s = at::sin(k * (std::numbers::pi / period));
  return 4.0 * s * s;
}

/// Angular frequency of index k = 0 … n − 1: π k / n (DCT) or 2π k / n
/// wrapped to (−π, π] (FFT).
at::Tensor frequencies(BasisKind kind, std::int64_t n) {
  at::Tensor k = at::arange(n, at::TensorOptions().dtype(at::kDouble));
  const double nd = static_cast<double>(n);
  if (kind == BasisKind::dct) {
    return k * (std::numbers::pi / nd);
  }
  // 2k > n ⇔ 2π k / n > π: wrap to k − n.
  at::Tensor wrapped = at::where(2.0 * k > nd, k - nd, k);
  return wrapped * (2.0 * std::numbers::pi / nd);
}

}  // namespace

const char* name(BasisKind kind) { return kind == BasisKind::dct ? "dct" : "fft"; }

BasisKind basis_for(lang::BoundaryKind boundary) {
  return boundary == lang::BoundaryKind::periodic ? BasisKind::fft : BasisKind::dct;
}

at::Tensor dct_matrix(std::int64_t n, at::ScalarType dtype, at::Device device) {
  check_size(n, "dct_matrix: n");
  using Key = std::tuple<std::int64_t, int, int, int>;
  struct Cache {
    std::mutex mutex;
    std::map<Key, at::Tensor> matrices;
  };
  // Leaked on purpose: CUDA tensors must not be freed after the CUDA runtime
  // has shut down at exit.
  static auto* const cache = new Cache;
  const Key key{n, static_cast<int>(dtype), static_cast<int>(device.type()),
                static_cast<int>(device.index())};
  const std::lock_guard lock(cache->mutex);
  auto it = cache->matrices.find(key);
  if (it == cache->matrices.end()) {
    at::Tensor d = build_dct_matrix(n).to(device, dtype).contiguous();
    it = cache->matrices.emplace(key, d).first;
  }
  return it->second;
}

at::Tensor laplacian_eigenvalues(BasisKind kind, std::int64_t height, std::int64_t width) {
  check_size(height, "laplacian_eigenvalues: height");
  check_size(width, "laplacian_eigenvalues: width");
  const double factor = kind == BasisKind::dct ? 2.0 : 1.0;
  at::Tensor kx = sin2(width, factor * static_cast<double>(width));    // [W]
  at::Tensor ky = sin2(height, factor * static_cast<double>(height));  // [H]
  return ky.unsqueeze(1) + kx.unsqueeze(0);
}

Wavevectors mode_wavevectors(BasisKind kind, std::int64_t height, std::int64_t width) {
  check_size(height, "mode_wavevectors: height");
  check_size(width, "mode_wavevectors: width");
  at::Tensor wx = frequencies(kind, width).unsqueeze(0).expand({height, width});
  at::Tensor wy = frequencies(kind, height).unsqueeze(1).expand({height, width});
  return {wx.contiguous(), wy.contiguous()};
}

SpectralBasis::SpectralBasis(BasisKind kind, std::int64_t height, std::int64_t width)
    : kind_(kind), height_(height), width_(width) {
  check_size(height, "SpectralBasis: height");
  check_size(width, "SpectralBasis: width");
}

void SpectralBasis::check_image(const at::Tensor& x, const char* what) const {
  auto fail = [&](const std::string& why) {
    std::ostringstream out;
    out << what << ": " << why << " (expected [..., " << height_ << ", " << width_ << "])";
    throw std::invalid_argument(out.str());
  };
  if (!x.defined()) fail("undefined tensor");
  if (x.dim() < 2) fail("a tensor of " + std::to_string(x.dim()) + " dimensions");
  if (x.size(-2) != height_ || x.size(-1) != width_) {
    fail("last two dimensions are " + std::to_string(x.size(-2)) + " x " +
         std::to_string(x.size(-1)));
  }
}

namespace {

/// A x Bᵀ for every image x [..., H, W] as two single matrix products over
/// the whole batch (x Bᵀ, then (A (x Bᵀ))ᵀ = (x Bᵀ)ᵀ Aᵀ): a broadcast A x
/// would be a batched product of thousands of tiny matrices, ~10× slower
/// for 8×8 images.
at::Tensor along_rows_and_columns(const at::Tensor& x, const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor y = at::matmul(x, b.t());
  return at::matmul(y.transpose(-1, -2), a.t()).transpose(-1, -2).contiguous();
}

}  // namespace

at::Tensor SpectralBasis::transform(const at::Tensor& x) const {
  check_image(x, "SpectralBasis::transform");
  if (!at::isFloatingType(x.scalar_type())) {
    throw std::invalid_argument("SpectralBasis::transform: x must be real floating point");
  }
  if (kind_ == BasisKind::fft) {
    return at::fft_fft2(x, {}, {-2, -1}, "ortho");
  }
  const at::Tensor dh = dct_matrix(height_, x.scalar_type(), x.device());
  const at::Tensor dw = dct_matrix(width_, x.scalar_type(), x.device());
  return along_rows_and_columns(x, dh, dw);
}

at::Tensor SpectralBasis::inverse(const at::Tensor& c) const {
  check_image(c, "SpectralBasis::inverse");
  if (kind_ == BasisKind::fft) {
    return at::real(at::fft_ifft2(c, {}, {-2, -1}, "ortho"));
  }
  if (!at::isFloatingType(c.scalar_type())) {
    throw std::invalid_argument("SpectralBasis::inverse: DCT coefficients must be real");
  }
  const at::Tensor dh = dct_matrix(height_, c.scalar_type(), c.device());
  const at::Tensor dw = dct_matrix(width_, c.scalar_type(), c.device());
  return along_rows_and_columns(c, dh.t(), dw.t());
}

at::Tensor SpectralBasis::multiply(const at::Tensor& x, const at::Tensor& m) const {
  check_image(x, "SpectralBasis::multiply");
  if (!m.defined() || m.dim() < 2 || m.size(-2) != height_ || m.size(-1) != width_) {
    throw std::invalid_argument("SpectralBasis::multiply: per-mode values must end in [" +
                                std::to_string(height_) + ", " + std::to_string(width_) + "]");
  }
  if (at::isComplexType(m.scalar_type())) {
    throw std::invalid_argument("SpectralBasis::multiply: per-mode values must be real");
  }
  const at::Tensor values = m.to(x.device(), x.scalar_type());
  return inverse(transform(x) * values);
}

at::Tensor SpectralBasis::eigenvalues() const {
  return laplacian_eigenvalues(kind_, height_, width_);
}

Wavevectors SpectralBasis::wavevectors() const { return mode_wavevectors(kind_, height_, width_); }

}  // namespace spdec::runtime
