#include "bench/hand_perona_malik.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "codegen/rng/philox.h"

namespace spdec::bench {
namespace {

int clamp(int v, int n) { return std::min(std::max(v, 0), n - 1); }

/// k at node x of a row, its horizontal neighbours at xl and xr (clamped by the caller).
inline float node_k(const PeronaMalikCoefficients& k, const float* up, const float* row,
                    const float* dn, int x, int xl, int xr) {
  const float gx = (row[xr] - row[xl]) / k.lambda1;
  const float gy = (dn[x] - up[x]) / k.lambda1;
  return k.alpha1 / std::sqrt(1.0f + (gy * gy + gx * gx));
}

/// Pass 1: the conductance of every node of one plane into K.
void conductance_plane(const PeronaMalikCoefficients& k, const float* u, float* K, int H, int W) {
  for (int y = 0; y < H; ++y) {
    const float* up = u + static_cast<std::int64_t>(clamp(y - 1, H)) * W;
    const float* row = u + static_cast<std::int64_t>(y) * W;
    const float* dn = u + static_cast<std::int64_t>(clamp(y + 1, H)) * W;
    float* out = K + static_cast<std::int64_t>(y) * W;
    out[0] = node_k(k, up, row, dn, 0, 0, clamp(1, W));
    for (int x = 1; x < W - 1; ++x) out[x] = node_k(k, up, row, dn, x, x - 1, x + 1);
    if (W > 1) out[W - 1] = node_k(k, up, row, dn, W - 1, W - 2, W - 1);
  }
}

/// The flux sum at x, its horizontal neighbours at xl and xr (clamped by the caller).
inline float flux(const float* row, const float* up, const float* dn, const float* kr,
                  const float* kup, const float* kdn, int x, int xl, int xr) {
  const float c = row[x];
  return (kr[xr] * (row[xr] - c) - kr[xl] * (c - row[xl])) +
         (kdn[x] * (dn[x] - c) - kup[x] * (c - up[x]));
}

/// Pass 2: b of one plane from the conductances K.
void flux_plane(const float* u, const float* K, float* b, int H, int W) {
  for (int y = 0; y < H; ++y) {
    const std::int64_t above = static_cast<std::int64_t>(clamp(y - 1, H)) * W;
    const std::int64_t here = static_cast<std::int64_t>(y) * W;
    const std::int64_t below = static_cast<std::int64_t>(clamp(y + 1, H)) * W;
    const float* row = u + here;
    const float* kr = K + here;
    float* out = b + here;
    out[0] = flux(row, u + above, u + below, kr, K + above, K + below, 0, 0, clamp(1, W));
    for (int x = 1; x < W - 1; ++x) {
      out[x] = flux(row, u + above, u + below, kr, K + above, K + below, x, x - 1, x + 1);
    }
    if (W > 1) {
      out[W - 1] = flux(row, u + above, u + below, kr, K + above, K + below, W - 1, W - 2, W - 1);
    }
  }
}

/// b of every plane, and Σ b² per plane into sums (when given).
void drift_planes(const PeronaMalikCoefficients& k, const float* u, float* b, double* sums,
                  const Shape& s) {
  const int H = static_cast<int>(s.h);
  const int W = static_cast<int>(s.w);
  const std::int64_t plane = s.h * s.w;
#pragma omp parallel
  {
    std::vector<float> K(static_cast<std::size_t>(plane));
#pragma omp for schedule(static)
    for (std::int64_t p = 0; p < s.planes(); ++p) {
      conductance_plane(k, u + p * plane, K.data(), H, W);
      flux_plane(u + p * plane, K.data(), b + p * plane, H, W);
      if (sums == nullptr) continue;
      double sum = 0;
      const float* bp = b + p * plane;
      for (std::int64_t i = 0; i < plane; ++i) {
        sum += static_cast<double>(bp[i]) * static_cast<double>(bp[i]);
      }
      sums[p] = sum;
    }
  }
}

/// The tamed step scale dt / (1 + dt ‖b‖) of every sample.
std::vector<float> tamed_scales(const std::vector<double>& plane_sums, float dt, const Shape& s) {
  std::vector<float> scales(static_cast<std::size_t>(s.n));
  for (std::int64_t n = 0; n < s.n; ++n) {
    double sum = 0;
    for (std::int64_t c = 0; c < s.c; ++c) sum += plane_sums[static_cast<std::size_t>(n * s.c + c)];
    const auto norm = static_cast<float>(std::sqrt(sum));
    scales[static_cast<std::size_t>(n)] = dt / (1.0f + dt * norm);
  }
  return scales;
}

/// out = u + scale_n b.
void tamed_update(const float* u, const float* b, const std::vector<float>& scales, float* out,
                  const Shape& s) {
  const std::int64_t sample = s.c * s.h * s.w;
#pragma omp parallel for schedule(static)
  for (std::int64_t n = 0; n < s.n; ++n) {
    const float scale = scales[static_cast<std::size_t>(n)];
    for (std::int64_t i = n * sample; i < (n + 1) * sample; ++i) out[i] = u[i] + scale * b[i];
  }
}

}  // namespace

void hand_drift(const PeronaMalikCoefficients& k, const float* u, float* out, const Shape& shape) {
  drift_planes(k, u, out, nullptr, shape);
}

void hand_flow_steps(const std::vector<PeronaMalikCoefficients>& coefficients, float dt,
                     const float* u, float* out, float* scratch, const Shape& shape) {
  std::vector<double> sums(static_cast<std::size_t>(shape.planes()));
  float* b = scratch;
  float* ping = scratch + shape.numel();
  const auto steps = static_cast<std::int64_t>(coefficients.size());
  const float* src = u;
  for (std::int64_t k = 0; k < steps; ++k) {
    float* dst = (steps - 1 - k) % 2 == 0 ? out : ping;
    drift_planes(coefficients[static_cast<std::size_t>(k)], src, b, sums.data(), shape);
    tamed_update(src, b, tamed_scales(sums, dt, shape), dst, shape);
    src = dst;
  }
}

void hand_forward_step(const PeronaMalikCoefficients& k, float dt, std::uint64_t seed,
                       const float* u, float* out, float* scratch, const Shape& shape) {
  const std::int64_t sample = shape.c * shape.h * shape.w;
  if (sample % 4 != 0)
    throw std::invalid_argument("hand_forward_step: C*H*W must be a multiple of 4");
  std::vector<double> sums(static_cast<std::size_t>(shape.planes()));
  drift_planes(k, u, scratch, sums.data(), shape);
  const std::vector<float> scales = tamed_scales(sums, dt, shape);
  const float noise_scale = k.alpha2 * std::sqrt(dt);
  const std::int64_t blocks = sample / 4;
#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t n = 0; n < shape.n; ++n) {
    for (std::int64_t block = 0; block < blocks; ++block) {
      float z[4];
      spdec_gaussian4(seed, static_cast<unsigned long long>(n), 0, static_cast<unsigned int>(block),
                      z);
      const std::int64_t i = n * sample + block * 4;
      const float scale = scales[static_cast<std::size_t>(n)];
      for (int j = 0; j < 4; ++j) {
        out[i + j] = u[i + j] + scale * scratch[i + j] + noise_scale * z[j];
      }
    }
  }
}

void copy_kernel(const float* u, float* out, std::int64_t count) {
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < count; ++i) out[i] = u[i];
}

}  // namespace spdec::bench
