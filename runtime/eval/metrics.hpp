// Sample-quality metrics on feature vectors (issue 6): Fréchet distance
// (FID), kernel inception distance (KID) and inception score (IS). The
// feature extractor is someone else's business (runtime/eval/feature_extractor.hpp
// when it exists): here features are [N, D] and class probabilities [N, K].
//
//   FID = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}
//         (Heusel et al. 2017), in double precision with symmetric
//         eigendecompositions: Σ₁^{1/2} Σ₂ Σ₁^{1/2} is symmetric positive
//         semi-definite, so its square root's trace is Σ √max(λᵢ, 0) — no
//         general matrix square root and none of its complex round-off.
//   KID = the unbiased MMD² with the kernel k(x, y) = (xᵀy / D + 1)³,
//         averaged over random subsets (Bińkowski et al. 2018; as in
//         torch-fidelity and clean-fid: subsets of min(1000, N) rows).
//   IS  = exp(E_x KL(p(y|x) ‖ p(y))) over splits of the samples (Salimans
//         et al. 2016), mean and standard deviation over the splits.
//   precision / recall = the improved k-NN estimates of Kynkäänniemi et al.
//         2019: each set's manifold is the union of balls around its points
//         reaching their k-th nearest neighbour; precision is the share of
//         generated points inside the real manifold (fidelity), recall the
//         share of real points inside the generated one (coverage).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace spdec::runtime {

/// Mean [D] and covariance [D, D] (unbiased, N − 1) of features [N, D], double.
struct FeatureStatistics {
  at::Tensor mean;
  at::Tensor covariance;
  std::int64_t count = 0;
};

[[nodiscard]] FeatureStatistics feature_statistics(const at::Tensor& features);

[[nodiscard]] double frechet_distance(const FeatureStatistics& a, const FeatureStatistics& b);

struct MeanStd {
  double mean = 0.0;
  double std = 0.0;
};

struct KidOptions {
  std::int64_t subsets = 100;
  std::int64_t subset_size = 1000;  ///< rows per subset (at most the smaller set)
  std::uint64_t seed = 0;
};

/// KID between features a [N, D] and b [M, D] (N, M ≥ 2).
[[nodiscard]] MeanStd kernel_inception_distance(const at::Tensor& a, const at::Tensor& b,
                                                const KidOptions& options = {});

/// The unbiased MMD² of one pair of sets with the cubic polynomial kernel.
[[nodiscard]] double polynomial_mmd2(const at::Tensor& a, const at::Tensor& b);

struct PrecisionRecall {
  double precision = 0.0;
  double recall = 0.0;
};

/// Improved precision and recall of generated features [M, D] against real
/// features [N, D] with k nearest neighbours (k = 3 in the paper; needs
/// N, M > k). Memory O(rows × 1024): distances are computed in blocks.
[[nodiscard]] PrecisionRecall precision_recall(const at::Tensor& real, const at::Tensor& generated,
                                               std::int64_t k = 3);

/// IS of class probabilities [N, K] (rows sum to 1) over `splits` splits.
[[nodiscard]] MeanStd inception_score(const at::Tensor& probabilities, std::int64_t splits = 10);

}  // namespace spdec::runtime
