#include "runtime/spectral/noise_operator.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "lang/evaluate.hpp"

namespace spdec::runtime {

namespace {

void check_length(double length) {
  if (!std::isfinite(length) || length < 0) {
    std::ostringstream out;
    out << "noise correlation length must be finite and >= 0, got " << length;
    throw std::invalid_argument(out.str());
  }
}

void check_knots(const KnotValues* knots, const std::vector<lang::Learnable>& learnables) {
  if (knots == nullptr) return;
  if (knots->size() != learnables.size()) {
    throw std::invalid_argument("NoiseOperator: " + std::to_string(knots->size()) +
                                " knot tables given for " + std::to_string(learnables.size()) +
                                " learnable schedules");
  }
  for (std::size_t i = 0; i < learnables.size(); ++i) {
    if ((*knots)[i].size() != learnables[i].knot_times.size()) {
      throw std::invalid_argument("NoiseOperator: learnable schedule '" + learnables[i].name +
                                  "' has " + std::to_string(learnables[i].knot_times.size()) +
                                  " knots, got " + std::to_string((*knots)[i].size()) + " values");
    }
  }
}

}  // namespace

double exponent(QPower power) {
  switch (power) {
    case QPower::one:
      return 1.0;
    case QPower::half:
      return 0.5;
    case QPower::minus_half:
      return -0.5;
    case QPower::minus_one:
      return -1.0;
  }
  return 1.0;
}

const char* name(NoiseOperator::Kind kind) {
  switch (kind) {
    case NoiseOperator::Kind::white:
      return "white";
    case NoiseOperator::Kind::correlation_length:
      return "correlation_length";
    case NoiseOperator::Kind::filter:
      return "filter";
  }
  return "?";
}

NoiseOperator::NoiseOperator(Kind kind, BasisKind basis, std::int64_t height, std::int64_t width)
    : kind_(kind), basis_(basis, height, width) {}

NoiseOperator NoiseOperator::white(lang::BoundaryKind boundary, std::int64_t height,
                                   std::int64_t width) {
  NoiseOperator op(Kind::white, basis_for(boundary), height, width);
  op.fixed_sqrt_ = op.compute_sqrt_eigenvalues(0, nullptr);
  return op;
}

NoiseOperator NoiseOperator::correlated(lang::BoundaryKind boundary, double length,
                                        std::int64_t height, std::int64_t width) {
  check_length(length);
  if (length == 0) return white(boundary, height, width);
  lang::Process process;
  process.boundary.kind = boundary;
  process.noise.correlation_length = length;
  return {process, height, width};
}

NoiseOperator::NoiseOperator(const lang::Process& process, std::int64_t height, std::int64_t width)
    : kind_(Kind::white), basis_(basis_for(process.boundary.kind), height, width) {
  const double length = process.noise.correlation_length;
  check_length(length);
  if (process.noise.filter) {
    if (length > 0) {
      throw std::invalid_argument(
          "NoiseOperator: a filter and a correlation length > 0 together (E046)");
    }
    kind_ = Kind::filter;
    filter_ = process.noise.filter;
    learnables_ = process.learnables;
    time_dependent_ = (filter_->reads & (lang::reads_t | lang::reads_knots)) != 0;
  } else if (length > 0) {
    kind_ = Kind::correlation_length;
  }
  // The correlation length is read back from the process only here.
  if (kind_ == Kind::correlation_length) {
    const Wavevectors w = basis_.wavevectors();
    const at::Tensor omega2 = w.x * w.x + w.y * w.y;
    const at::Tensor shape = at::pow(1.0 + (length * length) * omega2, -1.5);
    // c = H·W / Σ shape: mean(q) = 1, trace Q = H·W.
    const at::Tensor q = shape * (static_cast<double>(height * width) / shape.sum());
    fixed_sqrt_ = at::sqrt(q);
  } else if (!time_dependent_) {
    fixed_sqrt_ = compute_sqrt_eigenvalues(0, nullptr);
  }
}

at::Tensor NoiseOperator::compute_sqrt_eigenvalues(double t, const KnotValues* knots) const {
  if (fixed_sqrt_.defined()) return fixed_sqrt_;
  const at::TensorOptions options = at::TensorOptions().dtype(at::kDouble);
  if (kind_ != Kind::filter) {
    // white (correlation_length is always precomputed)
    return at::ones({height(), width()}, options);
  }
  check_knots(knots, learnables_);
  const at::Tensor kappa = basis_.eigenvalues().contiguous();
  at::Tensor out = at::empty({height(), width()}, options);
  const auto k = kappa.accessor<double, 2>();
  auto o = out.accessor<double, 2>();
  lang::EvalContext context;
  context.t = t;
  context.knot_values = knots;
  context.learnables = &learnables_;
  for (std::int64_t j = 0; j < height(); ++j) {
    for (std::int64_t i = 0; i < width(); ++i) {
      context.kappa = k[j][i];
      const double f = lang::evaluate_scalar(filter_, context);
      if (!std::isfinite(f)) {
        std::ostringstream msg;
        msg << "noise filter " << lang::to_string(filter_) << " is " << f << " at mode (" << i
            << ", " << j << "), kappa = " << context.kappa << ", t = " << t
            << " (it must be finite)";
        throw std::domain_error(msg.str());
      }
      o[j][i] = std::abs(f);
    }
  }
  return out;
}

at::Tensor NoiseOperator::sqrt_eigenvalues(double t, const KnotValues* knots) const {
  check_knots(knots, learnables_);
  return compute_sqrt_eigenvalues(t, knots);
}

at::Tensor NoiseOperator::sqrt_eigenvalues(std::span<const double> times,
                                           const KnotValues* knots) const {
  check_knots(knots, learnables_);
  const auto n = static_cast<std::int64_t>(times.size());
  if (!time_dependent_) {
    return compute_sqrt_eigenvalues(0, nullptr).expand({n, 1, height(), width()}).contiguous();
  }
  std::vector<at::Tensor> rows;
  rows.reserve(times.size());
  for (const double t : times) rows.push_back(compute_sqrt_eigenvalues(t, knots));
  if (rows.empty()) return at::empty({0, 1, height(), width()}, at::kDouble);
  return at::stack(rows).unsqueeze(1);
}

at::Tensor NoiseOperator::eigenvalues(double t, const KnotValues* knots) const {
  const at::Tensor s = sqrt_eigenvalues(t, knots);
  return s * s;
}

at::Tensor NoiseOperator::diagonal(double t, const KnotValues* knots) const {
  check_knots(knots, learnables_);
  if (is_identity()) return at::ones({height(), width()}, at::kDouble);
  const at::Tensor q = eigenvalues(t, knots);
  if (basis_.kind() == BasisKind::fft) {
    // Every FFT mode has |Φ_{p,k}|² = 1 / (H·W).
    return at::full({height(), width()}, q.mean().item<double>(), q.options());
  }
  // diag[y, x] = Σ_{j,i} q[j, i] D_H[j, y]² D_W[i, x]².
  const at::Tensor dh = dct_matrix(height());
  const at::Tensor dw = dct_matrix(width());
  return at::matmul(at::matmul((dh * dh).t(), q), dw * dw);
}

at::Tensor NoiseOperator::spectral_power(const at::Tensor& sqrt_eigenvalues, QPower power) {
  const at::Tensor a = at::abs(sqrt_eigenvalues);
  const double e = 2.0 * exponent(power);
  if (e > 0) return e == 1.0 ? a : at::pow(a, e);
  // Pseudo-inverse: 0 ↦ 0. The pow runs on a zero-free copy so that its
  // gradient at the zeros is 0, not 0 · ∞ = NaN.
  const at::Tensor zero = a == 0;
  const at::Tensor safe = at::where(zero, at::ones_like(a), a);
  return at::where(zero, at::zeros_like(a), at::pow(safe, e));
}

at::Tensor NoiseOperator::multiplier(QPower power, double t, const KnotValues* knots,
                                     const at::Tensor& like) const {
  if (time_dependent_) {
    return spectral_power(sqrt_eigenvalues(t, knots), power).to(like.device(), like.scalar_type());
  }
  const CacheKey key{static_cast<int>(power), static_cast<int>(like.scalar_type()),
                     static_cast<int>(like.device().type()),
                     static_cast<int>(like.device().index())};
  const std::lock_guard lock(cache_->mutex);
  auto it = cache_->multipliers.find(key);
  if (it == cache_->multipliers.end()) {
    at::Tensor m = spectral_power(fixed_sqrt_, power).to(like.device(), like.scalar_type());
    it = cache_->multipliers.emplace(key, m).first;
  }
  return it->second;
}

at::Tensor NoiseOperator::apply_power(const at::Tensor& x, QPower power, double t,
                                      const KnotValues* knots) const {
  basis_.check_image(x, "NoiseOperator::apply");
  check_knots(knots, learnables_);
  if (is_identity()) return x;
  return basis_.multiply(x, multiplier(power, t, knots, x));
}

at::Tensor NoiseOperator::apply_with(const at::Tensor& x, QPower power,
                                     const at::Tensor& sqrt_eigenvalues) const {
  basis_.check_image(x, "NoiseOperator::apply_with");
  return basis_.multiply(x, spectral_power(sqrt_eigenvalues, power));
}

}  // namespace spdec::runtime
