// The orthonormal bases that diagonalise the five-point Laplacian of each
// boundary (specs/LANGUAGE.md §11, docs/design.md §1): the 2-D DCT-II for neumann
// (and dirichlet, whose noise uses the Neumann basis) and the 2-D FFT for
// periodic. Transforms act on the last two dimensions [..., H, W] of a real
// floating-point tensor on any device, batched and differentiable.
//
// Layout: a spectral tensor has the shape of the image; entry [j, i] is mode
// (i, j), i the frequency along the width (x, columns) and j along the height
// (y, rows). For the FFT this is torch's fft2 layout (frequencies i and W − i
// are the same real mode's two halves).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "lang/process.hpp"

namespace spdec::runtime {

enum class BasisKind { dct, fft };

[[nodiscard]] const char* name(BasisKind kind);
/// DCT-II for neumann and dirichlet, FFT for periodic.
[[nodiscard]] BasisKind basis_for(lang::BoundaryKind boundary);

/// The orthonormal DCT-II matrix of size n (row k = frequency, column m = pixel):
/// D[k, m] = s_k cos(π k (m + ½) / n), s_0 = √(1/n), s_k = √(2/n), so D Dᵀ = I.
/// Built in double on the CPU, then cast and moved; cached per (n, dtype,
/// device) for the life of the process. Never requires grad.
[[nodiscard]] at::Tensor dct_matrix(std::int64_t n, at::ScalarType dtype = at::kDouble,
                                    at::Device device = at::kCPU);

/// κ of every mode, the eigenvalue of −Δ (five-point, the basis's boundary):
/// DCT  κ[j, i] = 4 sin²(π i / (2W)) + 4 sin²(π j / (2H));
/// FFT  κ[j, i] = 4 sin²(π i / W)   + 4 sin²(π j / H).
/// [H, W] double on the CPU.
[[nodiscard]] at::Tensor laplacian_eigenvalues(BasisKind kind, std::int64_t height,
                                               std::int64_t width);

/// The wavevector ω = (ωx, ωy) of every mode: DCT (π i / W, π j / H); FFT
/// (2π i / W, 2π j / H) wrapped to (−π, π]. Two [H, W] double CPU tensors.
struct Wavevectors {
  at::Tensor x;
  at::Tensor y;
};
[[nodiscard]] Wavevectors mode_wavevectors(BasisKind kind, std::int64_t height, std::int64_t width);

/// One orthonormal basis Φ of an H × W grid. Cheap to copy (two integers).
class SpectralBasis {
 public:
  SpectralBasis(BasisKind kind, std::int64_t height, std::int64_t width);

  [[nodiscard]] BasisKind kind() const { return kind_; }
  [[nodiscard]] std::int64_t height() const { return height_; }
  [[nodiscard]] std::int64_t width() const { return width_; }

  /// Φᵀ x, the coefficients of x [..., H, W] (real floating point): real for
  /// the DCT (D_H x D_Wᵀ, two batched matrix products), complex for the FFT
  /// (fft2 with norm "ortho", unitary).
  [[nodiscard]] at::Tensor transform(const at::Tensor& x) const;
  /// Φ c, back to pixels: D_Hᵀ c D_W for the DCT; the real part of the
  /// orthonormal ifft2 for the FFT.
  [[nodiscard]] at::Tensor inverse(const at::Tensor& c) const;
  /// Φ diag(m) Φᵀ x for real per-mode values m broadcastable against the
  /// spectral shape [..., H, W] ([H, W], [N, 1, H, W], ...); m is cast to x's
  /// dtype and device. Differentiable in x and m. For the FFT the result is
  /// the real part, i.e. m acts through its symmetric part ½(m[k] + m[−k]);
  /// every function of κ is already symmetric.
  [[nodiscard]] at::Tensor multiply(const at::Tensor& x, const at::Tensor& m) const;

  /// laplacian_eigenvalues(kind(), height(), width()).
  [[nodiscard]] at::Tensor eigenvalues() const;
  /// mode_wavevectors(kind(), height(), width()).
  [[nodiscard]] Wavevectors wavevectors() const;

  /// Throws std::invalid_argument unless x is a real floating-point tensor
  /// of at least two dimensions whose last two are H and W.
  void check_image(const at::Tensor& x, const char* what) const;

 private:
  BasisKind kind_;
  std::int64_t height_;
  std::int64_t width_;
};

}  // namespace spdec::runtime
