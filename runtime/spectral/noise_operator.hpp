// The noise covariance Q of a process (specs/LANGUAGE.md §11) as an operator
// on images: Q, Q^{1/2}, their (pseudo-)inverses, its eigenvalues and its
// diagonal. Q is never formed; every spectral Q is diagonal in the
// orthonormal basis Φ of the boundary (runtime/spectral/spectral_basis.hpp):
//
//   Q = Φ diag(q) Φᵀ,   Q^p x = Φ diag(q^p) Φᵀ x
//
//   white (ℓ = 0, no filter)  Q = I; every apply returns its input, untouched
//   correlation length ℓ > 0  q = c (1 + ℓ² |ω|²)^(−3/2), c such that mean(q) = 1
//                             (trace Q = H·W; every diagonal entry is 1 under
//                             periodic boundaries)
//   filter F(κ, t)            √q = |F(κ, t)|, F evaluated per mode in double by
//                             lang's host evaluator; q = F²
//
// Zero eigenvalues (a filter may vanish on some modes): the negative powers
// are the Moore–Penrose pseudo-inverse's, 0 ↦ 0 on those modes, so
// Q Q⁻¹ is the projection onto the modes with q > 0 rather than I.
//
// Thread safety: const methods may be called concurrently.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <tuple>
#include <vector>

#include "lang/process.hpp"
#include "runtime/spectral/spectral_basis.hpp"

namespace spdec::runtime {

/// Knot values of the learnable schedules, one vector per lang::Learnable in
/// the order of lang::Process::learnables (each as many values as knots, > 0).
using KnotValues = std::vector<std::vector<double>>;

/// Which power of Q an operation applies.
enum class QPower { one, half, minus_half, minus_one };

[[nodiscard]] double exponent(QPower power);

class NoiseOperator {
 public:
  enum class Kind { white, correlation_length, filter };

  /// Q of a checked process on an H × W grid.
  NoiseOperator(const lang::Process& process, std::int64_t height, std::int64_t width);
  /// Q = I.
  [[nodiscard]] static NoiseOperator white(lang::BoundaryKind boundary, std::int64_t height,
                                           std::int64_t width);
  /// The exponential kernel of correlation length ℓ > 0 (ℓ = 0 gives white).
  [[nodiscard]] static NoiseOperator correlated(lang::BoundaryKind boundary, double length,
                                                std::int64_t height, std::int64_t width);

  [[nodiscard]] Kind kind() const { return kind_; }
  [[nodiscard]] bool is_identity() const { return kind_ == Kind::white; }
  /// A filter that reads t or a learnable schedule: Q changes with time.
  [[nodiscard]] bool time_dependent() const { return time_dependent_; }
  [[nodiscard]] const SpectralBasis& basis() const { return basis_; }
  [[nodiscard]] std::int64_t height() const { return basis_.height(); }
  [[nodiscard]] std::int64_t width() const { return basis_.width(); }

  /// q per mode at time t, [H, W] double on the CPU (spectral layout of
  /// SpectralBasis). `knots` replaces the learnable schedules' init values.
  [[nodiscard]] at::Tensor eigenvalues(double t = 0, const KnotValues* knots = nullptr) const;
  /// √q per mode (|F| for a filter), [H, W] double on the CPU.
  [[nodiscard]] at::Tensor sqrt_eigenvalues(double t = 0, const KnotValues* knots = nullptr) const;
  /// √q for one time per sample: [N, 1, H, W] double on the CPU, to pass to
  /// apply_with() for a batch whose samples sit at different times.
  [[nodiscard]] at::Tensor sqrt_eigenvalues(std::span<const double> times,
                                            const KnotValues* knots = nullptr) const;
  /// diag(Q) per pixel, [H, W] double on the CPU: Σ_k q_k Φ_{p,k}².
  [[nodiscard]] at::Tensor diagonal(double t = 0, const KnotValues* knots = nullptr) const;

  /// Q^p x for x [..., H, W] (real floating point, any device), at time t,
  /// with `knots` for the learnable schedules (null: their init values).
  /// Differentiable in x. For a white operator this returns x itself (no copy).
  [[nodiscard]] at::Tensor apply_power(const at::Tensor& x, QPower power, double t = 0,
                                       const KnotValues* knots = nullptr) const;
  [[nodiscard]] at::Tensor apply(const at::Tensor& x, double t = 0) const {
    return apply_power(x, QPower::one, t);
  }
  [[nodiscard]] at::Tensor apply_sqrt(const at::Tensor& x, double t = 0) const {
    return apply_power(x, QPower::half, t);
  }
  [[nodiscard]] at::Tensor apply_inverse(const at::Tensor& x, double t = 0) const {
    return apply_power(x, QPower::minus_one, t);
  }
  [[nodiscard]] at::Tensor apply_inverse_sqrt(const at::Tensor& x, double t = 0) const {
    return apply_power(x, QPower::minus_half, t);
  }
  /// Q^p x with explicit per-mode values of √q (e.g. learned, or
  /// sqrt_eigenvalues(times) for per-sample times), broadcastable against the
  /// spectral shape of x ([H, W], [N, 1, H, W], ...). The sign of a value does
  /// not matter (|v| is used); zero values follow the pseudo-inverse rule.
  /// Differentiable in x and in the values. Always transforms, whatever kind().
  [[nodiscard]] at::Tensor apply_with(const at::Tensor& x, QPower power,
                                      const at::Tensor& sqrt_eigenvalues) const;

  /// |v|^(2·exponent(power)) elementwise, with 0 ↦ 0 for negative powers;
  /// differentiable, with a zero (not NaN) gradient at the zeros.
  [[nodiscard]] static at::Tensor spectral_power(const at::Tensor& sqrt_eigenvalues, QPower power);

 private:
  NoiseOperator(Kind kind, BasisKind basis, std::int64_t height, std::int64_t width);

  /// √q in double at time t (any kind).
  [[nodiscard]] at::Tensor compute_sqrt_eigenvalues(double t, const KnotValues* knots) const;
  /// q^p on x's device and dtype: cached for time-independent operators.
  [[nodiscard]] at::Tensor multiplier(QPower power, double t, const KnotValues* knots,
                                      const at::Tensor& like) const;

  Kind kind_;
  SpectralBasis basis_;
  bool time_dependent_ = false;
  lang::ExprRef filter_;
  std::vector<lang::Learnable> learnables_;
  /// √q for time-independent operators, [H, W] double CPU.
  at::Tensor fixed_sqrt_;

  using CacheKey = std::tuple<int, int, int, int>;  // power, dtype, device type, device index
  struct Cache {
    std::mutex mutex;
    std::map<CacheKey, at::Tensor> multipliers;
  };
  std::shared_ptr<Cache> cache_ = std::make_shared<Cache>();
};

[[nodiscard]] const char* name(NoiseOperator::Kind kind);

}  // namespace spdec::runtime
