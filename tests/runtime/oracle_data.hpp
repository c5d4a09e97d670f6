// The data of the sampler oracles, shared by tests/runtime/
// sampler_oracle_test.cpp and stable_sampler_test.cpp: Gaussian data with an
// image-like spectrum, and three fixed images.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "runtime/spectral/spectral_basis.hpp"
#include "test_support.hpp"

namespace spdec::test {

/// Gaussian data N(μ, Φ diag(c) Φᵀ) on a side × side grid.
struct GaussianData {
  at::Tensor mean;      ///< [1, H, W] double
  at::Tensor variance;  ///< [H, W] double, per mode
};

/// A smooth mean image and an image-like spectrum: variance falling with the
/// Laplacian eigenvalue, 0.25 on the mean mode.
inline GaussianData gaussian_data(const runtime::SpectralBasis& basis) {
  GaussianData data;
  const at::Tensor i = at::arange(basis.width(), f64());
  const at::Tensor j = at::arange(basis.height(), f64());
  data.mean =
      (0.5 * at::cos(0.7 * i).unsqueeze(0) * at::sin(0.4 * j + 0.3).unsqueeze(1)).unsqueeze(0);
  data.variance = 0.25 / (1.0 + 4.0 * basis.eigenvalues()).square();
  return data;
}

/// Three images [3, 1, side, side] (side ≥ 7) at −0.6 with a 0.8 shape each:
/// a vertical bar, a horizontal bar, a square in a corner.
inline at::Tensor three_images(std::int64_t side) {
  at::Tensor y = at::full({3, 1, side, side}, -0.6, f32());
  y[0].narrow(2, 2, 3).fill_(0.8);
  y[1].narrow(1, 4, 3).fill_(0.8);
  y[2].narrow(1, 1, 3).narrow(2, 1, 3).fill_(0.8);
  return y;
}

}  // namespace spdec::test
