#include "runtime/spectral/covariance.hpp"

#include <stdexcept>
#include <utility>

namespace spdec::runtime {
namespace {

/// |v|^p with 0 ↦ 0 for negative p (the pseudo-inverse), zero-gradient safe.
at::Tensor power(const at::Tensor& v, double p) {
  if (p > 0) return p == 1.0 ? v : at::pow(v, p);
  const at::Tensor zero = v == 0;
  return at::where(zero, at::zeros_like(v), at::pow(at::where(zero, at::ones_like(v), v), p));
}

bool is_scalar_per_sample(const at::Tensor& v) {
  return v.dim() == 0 || (v.dim() >= 2 && v.size(-1) == 1 && v.size(-2) == 1);
}

/// A per-mode variance that is the same for every mode of every sample
/// (white noise: VE, VP, decoupled additive) as a 0-dim tensor, so that
/// Φ diag(v) Φᵀ = v I skips the transforms; otherwise v itself.
at::Tensor collapse_constant(at::Tensor v) {
  if (!v.defined() || v.dim() == 0 || v.numel() == 0) return v;
  const at::Tensor first = v.flatten()[0];
  if (at::equal(v, first.expand_as(v))) return first.clone();
  return v;
}

}  // namespace

Covariance::Covariance(SpectralBasis basis, at::Tensor mode_variance, at::Tensor pixel_scale)
    : basis_(basis),
      variance_(collapse_constant(std::move(mode_variance))),
      scale_(std::move(pixel_scale)),
      identity_modes_(is_scalar_per_sample(variance_)) {
  if (!variance_.defined()) throw std::invalid_argument("covariance: mode variance undefined");
  if (!identity_modes_ && (variance_.size(-1) != basis_.width() ||
                           (variance_.dim() > 1 && variance_.size(-2) != basis_.height()))) {
    throw std::invalid_argument("covariance: mode variance does not match the basis's grid");
  }
  if ((variance_ < 0).any().item<bool>()) {
    throw std::invalid_argument("covariance: negative mode variance");
  }
  if (scale_.defined() && (scale_ < 0).any().item<bool>()) {
    throw std::invalid_argument("covariance: negative pixel scale");
  }
}

at::Tensor Covariance::modes(const at::Tensor& x, double exponent) const {
  const at::Tensor m = power(variance_, exponent);
  if (identity_modes_) return x * m.to(x.device(), x.scalar_type());
  return basis_.multiply(x, m);
}

at::Tensor Covariance::scale(const at::Tensor& x, bool inverse) const {
  if (!scale_.defined()) return x;
  const at::Tensor d = scale_.to(x.device(), x.scalar_type());
  return x * (inverse ? power(d, -1.0) : d);
}

at::Tensor Covariance::apply(const at::Tensor& x) const {
  return scale(modes(scale(x, false), 1.0), false);
}

at::Tensor Covariance::apply_sqrt(const at::Tensor& x) const { return scale(modes(x, 0.5), false); }

at::Tensor Covariance::apply_sqrt_transpose(const at::Tensor& x) const {
  return modes(scale(x, false), 0.5);
}

double Covariance::average_variance() const {
  const double v = variance_.mean().item<double>();
  return scale_.defined() ? v * scale_.to(at::kDouble).square().mean().item<double>() : v;
}

at::Tensor Covariance::apply_inverse(const at::Tensor& x) const {
  return scale(modes(scale(x, true), -1.0), true);
}

at::Tensor Covariance::apply_inverse_sqrt(const at::Tensor& x) const {
  return modes(scale(x, true), -0.5);
}

at::Tensor Covariance::apply_inverse_sqrt_transpose(const at::Tensor& x) const {
  return scale(modes(x, -0.5), true);
}

}  // namespace spdec::runtime
