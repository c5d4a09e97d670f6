// Priors at T (docs/design.md §5): the distribution a sampler starts from.
//
// Every prior here is a Gaussian that is diagonal in the orthonormal basis Φ
// of the process's boundary (runtime/spectral/spectral_basis.hpp; DCT-II for neumann
// and dirichlet, FFT for periodic): a mean image μ [C, H, W] and a per-mode
// variance v [C, H, W] (spectral layout), i.e. N(μ, Φ diag(v) Φᵀ) per channel.
// For the FFT the variance must be symmetric (v[k] = v[−k]), which every
// variance made here is; the covariance is then real.
//
//   closed_form   for a linear process (runtime/spectral/linear_process.hpp): the
//                 marginal at t of a start whose per-mode mean is the data
//                 mean, N(m_t ⊙ Φᵀμ_data, v_t) per mode. The marginal of the
//                 *data* at t is a mixture, not a Gaussian; this is its
//                 Gaussian with the data's spread dropped from the mean part.
//                 Without a data mean the start is zero. Right where little of
//                 x₀ survives (VE: v_t ≫ data variance; VP: m_t ≈ 0); check
//                 with survival_share.
//   gaussian_fit  mean image and per-mode variance of N samples of X_T (the
//                 caller simulates them, runtime/process/forward_simulation.hpp):
//                 v_k = Σ_n |c_nk − c̄_k|² / (N − 1), c = Φᵀx. For the FFT |c_k|²
//                 is the variance of mode k (E|c_k|² = v_k for the covariance
//                 Φ diag(v) Φᴴ); the estimate is symmetric since x is real.
//   simulate      not here: the sampler starts from forward-simulated X_T.
//
// Files (save/load): one file, written atomically, little-endian:
//   "SPDECPRIOR 1 <dct|fft> C H W\n" then C·H·W doubles of the mean and
//   C·H·W doubles of the variance. Anything else is a DataError naming it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <optional>

#include "runtime/spectral/linear_process.hpp"
#include "runtime/spectral/spectral_basis.hpp"

namespace spdec::runtime {

/// N(mean, Φ diag(variance) Φᵀ) per channel; mean and variance [C, H, W]
/// double CPU.
class GaussianPrior {
 public:
  /// Throws std::invalid_argument on shapes that disagree with the basis, a
  /// negative or non-finite variance, or a non-finite mean.
  GaussianPrior(SpectralBasis basis, const at::Tensor& mean, const at::Tensor& variance);

  [[nodiscard]] const SpectralBasis& basis() const { return basis_; }
  [[nodiscard]] const at::Tensor& mean() const { return mean_; }
  [[nodiscard]] const at::Tensor& variance() const { return variance_; }
  [[nodiscard]] std::int64_t channels() const { return mean_.size(0); }

  /// n samples [n, C, H, W] double CPU: mean + Φ diag(√v) Φᵀ ξ, ξ white from
  /// a CPU generator seeded by `seed` (the same (n, seed), the same batch).
  [[nodiscard]] at::Tensor sample(std::int64_t n, std::uint64_t seed) const;
  /// mean + Φ diag(√v) Φᵀ ξ for white ξ [N, C, H, W] (any device), double:
  /// the sampler's start from per-sample Philox noise.
  [[nodiscard]] at::Tensor transform_white(const at::Tensor& xi) const;
  /// log density of x [N, C, H, W] (any real float dtype), [N] double:
  /// −½ Σ_k (|c_k|²/v_k + log 2πv_k), c = Φᵀ(x − mean). Needs v > 0 everywhere.
  [[nodiscard]] at::Tensor log_prob(const at::Tensor& x) const;

  /// Writes the file format above atomically.
  void save(const std::filesystem::path& file) const;
  /// Reads it back; a missing, truncated, mislabelled or inconsistent file is
  /// a DataError naming the file and the problem.
  [[nodiscard]] static GaussianPrior load(const std::filesystem::path& file);

 private:
  SpectralBasis basis_;
  at::Tensor mean_;
  at::Tensor variance_;
};

/// Mean image and per-mode variance of samples x [N, C, H, W] (N ≥ 2, any
/// real float dtype or device) in `basis`.
[[nodiscard]] GaussianPrior gaussian_fit(const at::Tensor& x, const SpectralBasis& basis);

/// N(m_t ⊙ Φᵀ data_mean, v_t) per mode of `process` at t, for `channels`
/// channels; data_mean [C, H, W] (pixels) or nullopt for a zero mean.
[[nodiscard]] GaussianPrior closed_form(const LinearProcess& process, double t,
                                        std::int64_t channels,
                                        const std::optional<at::Tensor>& data_mean = std::nullopt);

/// How much of x₀ survives at t: the share of X_t's total variance that is
/// x₀'s, Σ m_t² d / Σ (m_t² d + v_t) over channels and modes, d = the data's
/// per-mode variance ([H, W] or [C, H, W], e.g. gaussian_fit(x0,
/// process.basis()).variance()). 0 when x₀ is forgotten (VP at T: ≈ m_T²),
/// near 1 when X_t is mostly x₀ (heat keeps the image mean, so with data
/// whose spread is in the mean the share stays high). Not the share of x₀'s
/// own variance kept (Σ m² d / Σ d). Throws when the denominator is 0.
[[nodiscard]] double survival_share(const LinearProcess& process, double t,
                                    const at::Tensor& data_variance);

}  // namespace spdec::runtime
