#include "runtime/eval/metrics.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace spdec::runtime {
namespace {

at::Tensor as_double_matrix(const at::Tensor& x, const char* what) {
  if (x.dim() != 2) throw std::invalid_argument(std::string(what) + " must be [N, D]");
  return x.to(at::kCPU, at::kDouble).contiguous();
}

/// √ of a symmetric positive semi-definite matrix by eigendecomposition
/// (negative round-off eigenvalues clipped to 0).
at::Tensor symmetric_sqrt(const at::Tensor& m) {
  const auto [values, vectors] = at::linalg_eigh(0.5 * (m + m.t()));
  return at::matmul(vectors * values.clamp_min(0.0).sqrt().unsqueeze(0), vectors.t());
}

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd out;
  if (values.empty()) return out;
  for (const double v : values) out.mean += v / static_cast<double>(values.size());
  double variance = 0;
  for (const double v : values) variance += (v - out.mean) * (v - out.mean);
  // numpy's std (ddof = 0), as the reference implementations report it.
  out.std = std::sqrt(variance / static_cast<double>(values.size()));
  return out;
}

constexpr std::int64_t kDistanceBlock = 1024;

/// Distance of every row of x to its k-th nearest other row of x.
at::Tensor kth_neighbour_radii(const at::Tensor& x, std::int64_t k) {
  std::vector<at::Tensor> radii;
  for (std::int64_t first = 0; first < x.size(0); first += kDistanceBlock) {
    const std::int64_t n = std::min(kDistanceBlock, x.size(0) - first);
    const at::Tensor d = at::cdist(x.narrow(0, first, n), x);
    // The k+1 smallest include the row itself at distance 0.
    radii.push_back(std::get<0>(d.topk(k + 1, 1, /*largest=*/false)).select(1, k));
  }
  return at::cat(radii);
}

/// Share of the rows of `points` inside at least one ball (centres, radii).
double share_inside(const at::Tensor& points, const at::Tensor& centres, const at::Tensor& radii) {
  std::int64_t inside = 0;
  for (std::int64_t first = 0; first < points.size(0); first += kDistanceBlock) {
    const std::int64_t n = std::min(kDistanceBlock, points.size(0) - first);
    const at::Tensor d = at::cdist(points.narrow(0, first, n), centres);
    inside += (d <= radii.unsqueeze(0)).any(1).sum().item<std::int64_t>();
  }
  return static_cast<double>(inside) / static_cast<double>(points.size(0));
}

}  // namespace

FeatureStatistics feature_statistics(const at::Tensor& features) {
  const at::Tensor x = as_double_matrix(features, "features");
  if (x.size(0) < 2) throw std::invalid_argument("feature statistics need at least 2 rows");
  FeatureStatistics s;
  s.count = x.size(0);
  s.mean = x.mean(0);
  const at::Tensor centred = x - s.mean.unsqueeze(0);
  s.covariance = at::matmul(centred.t(), centred) / static_cast<double>(s.count - 1);
  return s;
}

double frechet_distance(const FeatureStatistics& a, const FeatureStatistics& b) {
  if (a.mean.sizes() != b.mean.sizes()) {
    throw std::invalid_argument("frechet_distance: feature dimensions differ");
  }
  const at::Tensor root_a = symmetric_sqrt(a.covariance);
  const at::Tensor middle = at::matmul(at::matmul(root_a, b.covariance), root_a);
  const at::Tensor eigenvalues = at::linalg_eigvalsh(0.5 * (middle + middle.t()));
  const double cross = eigenvalues.clamp_min(0.0).sqrt().sum().item<double>();
  const double mean_term = (a.mean - b.mean).square().sum().item<double>();
  const double fid = mean_term + a.covariance.trace().item<double>() +
                     b.covariance.trace().item<double>() - 2.0 * cross;
  return std::max(fid, 0.0);  // round-off can give −1e-12 for identical sets
}

double polynomial_mmd2(const at::Tensor& a_in, const at::Tensor& b_in) {
  const at::Tensor a = as_double_matrix(a_in, "KID features");
  const at::Tensor b = as_double_matrix(b_in, "KID features");
  const auto m = static_cast<double>(a.size(0));
  const auto n = static_cast<double>(b.size(0));
  const auto d = static_cast<double>(a.size(1));
  if (m < 2 || n < 2) throw std::invalid_argument("KID needs at least 2 rows per set");
  const auto kernel = [d](const at::Tensor& x, const at::Tensor& y) {
    return (at::matmul(x, y.t()) / d + 1.0).pow(3);
  };
  const at::Tensor kaa = kernel(a, a);
  const at::Tensor kbb = kernel(b, b);
  const at::Tensor kab = kernel(a, b);
  // Unbiased: the diagonals (a point with itself) are left out.
  const double saa = (kaa.sum() - kaa.diagonal().sum()).item<double>() / (m * (m - 1));
  const double sbb = (kbb.sum() - kbb.diagonal().sum()).item<double>() / (n * (n - 1));
  const double sab = kab.sum().item<double>() / (m * n);
  return saa + sbb - 2.0 * sab;
}

MeanStd kernel_inception_distance(const at::Tensor& a, const at::Tensor& b,
                                  const KidOptions& options) {
  const std::int64_t size = std::min({options.subset_size, a.size(0), b.size(0)});
  at::Generator generator = at::detail::createCPUGenerator(options.seed);
  std::vector<double> values;
  for (std::int64_t i = 0; i < std::max<std::int64_t>(options.subsets, 1); ++i) {
    const at::Tensor ia = at::randperm(a.size(0), generator, at::kLong).narrow(0, 0, size);
    const at::Tensor ib = at::randperm(b.size(0), generator, at::kLong).narrow(0, 0, size);
    values.push_back(polynomial_mmd2(a.index_select(0, ia), b.index_select(0, ib)));
  }
  return mean_std(values);
}

PrecisionRecall precision_recall(const at::Tensor& real_in, const at::Tensor& generated_in,
                                 std::int64_t k) {
  const at::Tensor real = as_double_matrix(real_in, "real features");
  const at::Tensor generated = as_double_matrix(generated_in, "generated features");
  if (real.size(1) != generated.size(1)) {
    throw std::invalid_argument("precision_recall: feature dimensions differ");
  }
  if (k < 1 || real.size(0) <= k || generated.size(0) <= k) {
    throw std::invalid_argument("precision_recall: each set needs more than k rows");
  }
  PrecisionRecall out;
  out.precision = share_inside(generated, real, kth_neighbour_radii(real, k));
  out.recall = share_inside(real, generated, kth_neighbour_radii(generated, k));
  return out;
}

MeanStd inception_score(const at::Tensor& probabilities, std::int64_t splits) {
  const at::Tensor p = as_double_matrix(probabilities, "class probabilities");
  if (splits < 1 || p.size(0) < splits) {
    throw std::invalid_argument("inception_score: need at least one sample per split");
  }
  std::vector<double> scores;
  const std::int64_t n = p.size(0);
  for (std::int64_t k = 0; k < splits; ++k) {
    const std::int64_t begin = k * n / splits;
    const at::Tensor part = p.narrow(0, begin, (k + 1) * n / splits - begin);
    const at::Tensor marginal = part.mean(0, true);
    // KL(p(y|x) ‖ p(y)), 0 log 0 = 0.
    const at::Tensor kl =
        at::where(part > 0, part * (part.log() - marginal.log()), at::zeros_like(part)).sum(1);
    scores.push_back(std::exp(kl.mean().item<double>()));
  }
  return mean_std(scores);
}

}  // namespace spdec::runtime
