#include "runtime/process/preconditioner.hpp"

#include <stdexcept>
#include <utility>

namespace spdec::runtime {
namespace {

/// A real per-mode factor applied to spectral coefficients c (real for the
/// DCT, complex for the FFT), in c's precision and device.
at::Tensor scale_modes(const at::Tensor& c, const at::Tensor& factor) {
  const at::ScalarType real =
      c.is_complex() ? c10::toRealValueType(c.scalar_type()) : c.scalar_type();
  return c * factor.to(c.device(), real);
}

}  // namespace

Preconditioner::Preconditioner(GaussianPrior data) : data_(std::move(data)) {
  const at::Tensor v = data_.variance().to(at::kDouble);
  const double mean = v.mean().item<double>();
  if (!(mean > 0)) {
    throw std::invalid_argument(
        "denoiser parameterisation: the training data has no variance (all images equal?)");
  }
  variance_ = v.clamp_min(kVarianceFloor * mean).unsqueeze(0);
}

Preconditioner::Coefficients Preconditioner::coefficients(const ModeScales& scales) const {
  const at::Tensor m = scales.m.to(at::kDouble);
  const at::Tensor s2 = scales.s2.to(at::kDouble);
  const at::Tensor total = m * m * variance_ + s2;  // Var(x_t,k) for data of this spectrum
  Coefficients c;
  c.in = at::rsqrt(total);
  c.skip = m * variance_ / total;
  c.out = at::sqrt(variance_ * s2 / total);
  return c;
}

Preconditioner::State Preconditioner::at(const at::Tensor& xt, const ModeScales& scales) const {
  const at::Tensor mean = data_.mean().unsqueeze(0).to(xt.device(), xt.scalar_type());
  const at::Tensor m_mean = basis().multiply(mean, scales.m.to(at::kDouble));
  return {*this, coefficients(scales), basis().transform(xt - m_mean), xt.scalar_type()};
}

at::Tensor Preconditioner::State::mean() const {
  return owner_.data_.mean().unsqueeze(0).to(y_.device(), dtype_);
}

at::Tensor Preconditioner::State::input() const {
  return owner_.basis().inverse(scale_modes(y_, c_.in)).to(dtype_);
}

at::Tensor Preconditioner::State::denoised(const at::Tensor& network_output) const {
  const at::Tensor f = owner_.basis().transform(network_output.to(dtype_));
  return (mean() + owner_.basis().inverse(scale_modes(y_, c_.skip) + scale_modes(f, c_.out)))
      .to(dtype_);
}

at::Tensor Preconditioner::State::target(const at::Tensor& x0) const {
  const at::Tensor residual =
      owner_.basis().transform(x0.to(dtype_) - mean()) - scale_modes(y_, c_.skip);
  return owner_.basis().inverse(scale_modes(residual, 1.0 / c_.out)).to(dtype_);
}

at::Tensor Preconditioner::State::pixel_weights() const {
  const at::Tensor out2 = c_.out.square().expand_as(y_.is_complex() ? at::real(y_) : y_);
  return out2 / out2.mean({1, 2, 3}, /*keepdim=*/true);
}

at::Tensor Preconditioner::input(const at::Tensor& xt, const ModeScales& scales) const {
  return at(xt, scales).input();
}

at::Tensor Preconditioner::denoised(const at::Tensor& xt, const at::Tensor& network_output,
                                    const ModeScales& scales) const {
  return at(xt, scales).denoised(network_output);
}

at::Tensor Preconditioner::target(const at::Tensor& x0, const at::Tensor& xt,
                                  const ModeScales& scales) const {
  return at(xt, scales).target(x0);
}

at::Tensor Preconditioner::output_variance(const ModeScales& scales) const {
  return coefficients(scales).out.square();
}

GaussianPrior flatten_spectrum(const GaussianPrior& spectrum) {
  const at::Tensor v = spectrum.variance();
  return {spectrum.basis(), spectrum.mean(), at::full_like(v, v.mean().item<double>())};
}

GaussianPrior sigma_data_spectrum(const SpectralBasis& basis, std::int64_t channels,
                                  double sigma_data) {
  if (!(sigma_data > 0)) throw std::invalid_argument("model.sigma_data must be positive");
  const auto options = at::TensorOptions().dtype(at::kDouble);
  return {basis, at::zeros({channels, basis.height(), basis.width()}, options),
          at::full({channels, basis.height(), basis.width()}, sigma_data * sigma_data, options)};
}

}  // namespace spdec::runtime
