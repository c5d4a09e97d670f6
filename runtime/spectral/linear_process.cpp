// Linear spectral processes: exact per-mode Gaussian marginals. The method and
// its error are described in linear_process.hpp.
#include "runtime/spectral/linear_process.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "codegen/pipeline.hpp"
#include "runtime/kernels/process_kernels.hpp"
#include "runtime/kernels/reference_kernels.hpp"

namespace spdec::runtime {

namespace {

// 8-point Gauss–Legendre on [−1, 1] (exact for polynomials of degree ≤ 15).
constexpr std::array<double, 8> kGaussNodes = {
    -0.9602898564975363, -0.7966664774136267, -0.5255324099163290, -0.1834346424956498,
    0.1834346424956498,  0.5255324099163290,  0.7966664774136267,  0.9602898564975363};
constexpr std::array<double, 8> kGaussWeights = {
    0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.3626837833783620,
    0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763};

/// Panels no wider than T / kMinPanels; coarse probe grid for the stiffness bound.
constexpr int kMinPanels = 512;
constexpr int kCoarse = 512;
/// Largest table of stored variances, in doubles.
constexpr std::int64_t kMaxTableDoubles = std::int64_t{1} << 21;
/// Pairs (s, t) further apart than this many panels use v_t − m²v_s for v_{t|s}.
constexpr std::size_t kDirectTransitionPanels = 64;

[[noreturn]] void refuse(const lang::Process& process, const std::string& why) {
  throw std::invalid_argument("linear process " + process.name +
                              ": no exact Gaussian marginals: " + why);
}

at::TensorOptions f64() { return at::TensorOptions().dtype(at::kDouble); }

}  // namespace

LinearProcess::LinearProcess(std::shared_ptr<const lang::Process> process, std::int64_t height,
                             std::int64_t width, const KnotValues* knots)
    : process_(std::move(process)), noise_(*process_, height, width) {
  const lang::Process& p = *process_;
  const lang::Classification& cls = p.classification;
  if (cls.noise_spatially_varying) {
    refuse(p, "the diffusion g2 varies in space (reads x, y or u0); only g2 = g(t) is supported");
  }
  if (cls.noise != lang::NoiseClass::additive) {
    refuse(p, std::string("the noise is ") + lang::name(cls.noise) + ", not additive");
  }
  if (!cls.drift_spectral) refuse(p, "the drift is not a(t) lap(u) + c(t) u");
  if (p.boundary.kind == lang::BoundaryKind::dirichlet) {
    refuse(p,
           "with a dirichlet boundary lap(u) is not diagonal in the DCT-II basis (and a nonzero "
           "boundary value shifts the mean); the per-mode closed form needs neumann or periodic");
  }
  if (!cls.exact_marginals) refuse(p, "the classification does not prove exact marginals");
  if (knots != nullptr) knots_ = *knots;
  T_ = p.time.T;
  if (!(T_ > 0)) refuse(p, "T must be positive");
  program_ = std::make_shared<const codegen::StencilProgram>(codegen::build_program(p));
  kappa_ = noise_.basis().eigenvalues();
  if (!noise_.time_dependent()) fixed_q_ = noise_.eigenvalues(0, knots_ ? &*knots_ : nullptr);

  // Probes on a 4 × 4 grid of the same boundary: zero, constant, and mode
  // (i = 2, j = 0) of the basis (κ = 2 for the DCT, 4 for the FFT).
  const SpectralBasis probe_basis(noise_.basis().kind(), 4, 4);
  at::Tensor one_hot = at::zeros({4, 4}, f64());
  one_hot[0][2] = 1.0;
  const at::Tensor mode = probe_basis.inverse(one_hot);
  probe_kappa_ = probe_basis.eigenvalues()[0][2].item<double>();
  probes_ = at::stack({at::zeros({4, 4}, f64()), at::ones({4, 4}, f64()), mode / mode.abs().max()})
                .unsqueeze(1)
                .contiguous();

  // Panel breakpoints: 0, T and the learnable knots (log-linear kinks).
  std::vector<double> breaks = {0.0, T_};
  for (const lang::Learnable& learnable : p.learnables) {
    for (double k : learnable.knot_times) {
      if (k > 0 && k < T_) breaks.push_back(k);
    }
  }
  std::sort(breaks.begin(), breaks.end());
  breaks.erase(std::unique(breaks.begin(), breaks.end(),
                           [&](double x, double y) { return y - x < 1e-12 * T_; }),
               breaks.end());

  // Stiffness bound λ(s) = 2(|c| + |a| κ_max) on a coarse grid.
  const double kappa_max = kappa_.max().item<double>();
  std::vector<double> rate(kCoarse + 1);
  for (int i = 0; i <= kCoarse; ++i) {
    const LinearCoefficients k = coefficients(T_ * i / kCoarse);
    rate[static_cast<std::size_t>(i)] = 2.0 * (std::abs(k.c) + std::abs(k.a) * kappa_max);
  }
  const double coarse_h = T_ / kCoarse;
  auto local_rate = [&](double lo, double hi) {
    const auto i0 =
        static_cast<std::size_t>(std::clamp(std::floor(lo / coarse_h), 0.0, 1.0 * kCoarse));
    const auto i1 =
        static_cast<std::size_t>(std::clamp(std::ceil(hi / coarse_h), 0.0, 1.0 * kCoarse));
    double r = 0;
    for (std::size_t i = i0; i <= i1; ++i) r = std::max(r, rate[i]);
    return r;
  };
  const double h_max = T_ / kMinPanels;
  for (std::size_t b = 0; b + 1 < breaks.size(); ++b) {
    double t = breaks[b];
    const double end = breaks[b + 1];
    while (t < end) {
      double h = std::min(h_max, end - t);
      const double r = local_rate(t, t + h);
      if (r * h > 1.0) h = 1.0 / r;
      if (end - (t + h) < 1e-3 * h) h = end - t;  // no sliver panels
      Panel panel;
      panel.lo = t;
      panel.hi = t + h;
      panels_.push_back(panel);
      t = panel.hi;
    }
  }
  // Probe every panel's nodes; cumulative A, C.
  double A = 0;
  double C = 0;
  for (Panel& panel : panels_) {
    const double mid = 0.5 * (panel.lo + panel.hi);
    const double half = 0.5 * (panel.hi - panel.lo);
    for (int j = 0; j < kNodes; ++j) {
      const LinearCoefficients k = coefficients(mid + half * kGaussNodes[j]);
      panel.a[j] = k.a;
      panel.c[j] = k.c;
      panel.g2[j] = k.g * k.g;
    }
    panel.A_lo = A;
    panel.C_lo = C;
    const auto [dA, dC] = integrate_ac(panel, panel.lo, panel.hi);
    A += dA;
    C += dC;
  }

  // Variance table at panel starts (every stride-th), then at T.
  const std::int64_t modes = height * width;
  stride_ = static_cast<std::size_t>(std::max<std::int64_t>(
      1, (static_cast<std::int64_t>(panels_.size()) * modes + kMaxTableDoubles - 1) /
             kMaxTableDoubles));
  at::Tensor v = at::zeros({height, width}, f64());
  for (std::size_t i = 0; i < panels_.size(); ++i) {
    if (i % stride_ == 0) table_.push_back(v);
    v = advance(v, panels_[i].lo, panels_[i].hi);
  }
}

LinearCoefficients LinearProcess::coefficients(double t) const {
  const std::vector<double> params =
      host_params(*process_, *program_, t, knots_ ? &*knots_ : nullptr);
  const at::Tensor b =
      reference::evaluate(*program_, program_->drift.general, probes_, at::Tensor(), params)
          .to(at::kDouble)
          .expand_as(probes_);
  const at::Tensor g =
      reference::evaluate(*program_, program_->diffusion.general, probes_, at::Tensor(), params)
          .to(at::kDouble)
          .expand_as(probes_);
  const double scale = std::max(1.0, b.abs().max().item<double>());
  const double tol = 1e-11 * scale;
  LinearCoefficients out;
  out.c = b[1].mean().item<double>();
  const at::Tensor mode = probes_[2];
  const double lambda = (b[2] * mode).sum().item<double>() / mode.square().sum().item<double>();
  out.a = (out.c - lambda) / probe_kappa_;
  if (b[0].abs().max().item<double>() > tol || (b[1] - out.c).abs().max().item<double>() > tol ||
      (b[2] - lambda * mode).abs().max().item<double>() > tol) {
    refuse(*process_, "the drift at t = " + std::to_string(t) +
                          " is not a(t) lap(u) + c(t) u on the probe images");
  }
  out.g = g[0][0][0][0].item<double>();
  if ((g - out.g).abs().max().item<double>() > 1e-12 * std::max(1.0, std::abs(out.g))) {
    refuse(*process_, "the diffusion at t = " + std::to_string(t) + " varies over the grid");
  }
  return out;
}

std::size_t LinearProcess::panel_index(double t) const {
  const auto it = std::upper_bound(panels_.begin(), panels_.end(), t,
                                   [](double x, const Panel& panel) { return x < panel.lo; });
  if (it == panels_.begin()) return 0;
  return static_cast<std::size_t>(it - panels_.begin()) - 1;
}

std::array<double, 3> LinearProcess::interpolate(const Panel& panel, double s) const {
  const double xi = (2.0 * s - panel.lo - panel.hi) / (panel.hi - panel.lo);
  std::array<double, 3> out{};
  for (int j = 0; j < kNodes; ++j) {
    double l = 1.0;
    for (int m = 0; m < kNodes; ++m) {
      if (m != j) l *= (xi - kGaussNodes[m]) / (kGaussNodes[j] - kGaussNodes[m]);
    }
    out[0] += l * panel.a[j];
    out[1] += l * panel.c[j];
    out[2] += l * panel.g2[j];
  }
  return out;
}

std::array<double, 2> LinearProcess::integrate_ac(const Panel& panel, double from,
                                                  double to) const {
  const double mid = 0.5 * (from + to);
  const double half = 0.5 * (to - from);
  std::array<double, 2> out{};
  for (int j = 0; j < kNodes; ++j) {
    const auto v = interpolate(panel, mid + half * kGaussNodes[j]);
    out[0] += kGaussWeights[j] * v[0];
    out[1] += kGaussWeights[j] * v[1];
  }
  out[0] *= half;
  out[1] *= half;
  return out;
}

at::Tensor LinearProcess::q_at(double s) const {
  if (fixed_q_.defined()) return fixed_q_;
  return noise_.eigenvalues(s, knots_ ? &*knots_ : nullptr);
}

at::Tensor LinearProcess::advance(at::Tensor v, double from, double to) const {
  std::size_t i = panel_index(from);
  for (; i < panels_.size(); ++i) {
    const Panel& panel = panels_[i];
    const double lo = std::max(from, panel.lo);
    const double hi = std::min(to, panel.hi);
    if (hi > lo) {
      const auto [DA, DC] = integrate_ac(panel, lo, hi);
      at::Tensor next = at::exp(2.0 * (DC - kappa_ * DA)) * v;
      const double mid = 0.5 * (lo + hi);
      const double half = 0.5 * (hi - lo);
      for (int j = 0; j < kNodes; ++j) {
        const double s = mid + half * kGaussNodes[j];
        const double g2 = interpolate(panel, s)[2];
        const auto [dA, dC] = integrate_ac(panel, s, hi);
        next = next + (half * kGaussWeights[j] * g2) * at::exp(2.0 * (dC - kappa_ * dA)) * q_at(s);
      }
      v = next;
    }
    if (to <= panel.hi) break;
  }
  return v;
}

void LinearProcess::check_times(std::span<const double> t, const char* what) const {
  for (double x : t) {
    if (!(x >= 0 && x <= T_ * (1 + 1e-12))) {
      throw std::invalid_argument(std::string("linear process: ") + what + ": time " +
                                  std::to_string(x) + " outside [0, T]");
    }
  }
}

std::array<double, 2> LinearProcess::integrated_coefficients(double t) const {
  const double tt = std::min(t, T_);
  const Panel& panel = panels_[panel_index(tt)];
  const auto [dA, dC] = integrate_ac(panel, panel.lo, tt);
  return {panel.A_lo + dA, panel.C_lo + dC};
}

at::Tensor LinearProcess::log_mean_factor(double t) const {
  const double tt = t;
  check_times({&tt, 1}, "log_mean_factor");
  const auto [A, C] = integrated_coefficients(t);
  return C - kappa_ * A;
}

at::Tensor LinearProcess::mean_factor(double t) const { return at::exp(log_mean_factor(t)); }

at::Tensor LinearProcess::variance(double t) const {
  const double tt = std::min(t, T_);
  check_times({&t, 1}, "variance");
  const std::size_t p = panel_index(tt);
  const std::size_t j = p / stride_;
  return advance(table_[j], panels_[j * stride_].lo, tt);
}

at::Tensor LinearProcess::variance_between(double s, double t) const {
  check_times({&s, 1}, "variance_between");
  check_times({&t, 1}, "variance_between");
  if (s > t) throw std::invalid_argument("linear process: variance_between needs s <= t");
  return advance(at::zeros_like(kappa_), s, std::min(t, T_));
}

at::Tensor LinearProcess::mean_factor(std::span<const double> t) const {
  std::vector<at::Tensor> out;
  out.reserve(t.size());
  for (double x : t) out.push_back(mean_factor(x));
  return at::stack(out).unsqueeze(1);
}

at::Tensor LinearProcess::variance(std::span<const double> t) const {
  std::vector<at::Tensor> out;
  out.reserve(t.size());
  for (double x : t) out.push_back(variance(x));
  return at::stack(out).unsqueeze(1);
}

at::Tensor LinearProcess::marginal_mean(const at::Tensor& x0, std::span<const double> t) const {
  if (x0.dim() != 4 || x0.size(0) != static_cast<std::int64_t>(t.size())) {
    throw std::invalid_argument("linear process: marginal_mean needs x0 [N, C, H, W], N times");
  }
  return basis().multiply(x0, mean_factor(t));
}

at::Tensor LinearProcess::apply_covariance(const at::Tensor& x, std::span<const double> t,
                                           QPower power) const {
  if (x.dim() != 4 || x.size(0) != static_cast<std::int64_t>(t.size())) {
    throw std::invalid_argument("linear process: apply_covariance needs x [N, C, H, W], N times");
  }
  return basis().multiply(x, NoiseOperator::spectral_power(at::sqrt(variance(t)), power));
}

at::Tensor LinearProcess::sample(const at::Tensor& x0, std::span<const double> t,
                                 const at::Tensor& eps) const {
  return marginal_mean(x0, t) + apply_covariance(eps, t, QPower::half);
}

TransitionFactors LinearProcess::transition_factors(std::span<const double> s,
                                                    std::span<const double> t) const {
  if (s.size() != t.size()) {
    throw std::invalid_argument("linear process: transition needs as many s as t");
  }
  std::vector<at::Tensor> mx0;
  std::vector<at::Tensor> mxt;
  std::vector<at::Tensor> var;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!(s[i] <= t[i])) throw std::invalid_argument("linear process: transition needs s <= t");
    const at::Tensor phi_s = log_mean_factor(s[i]);
    const at::Tensor phi_t = log_mean_factor(t[i]);
    const at::Tensor m_s = at::exp(phi_s);
    const at::Tensor m_t = at::exp(phi_t);
    const at::Tensor m_ts = at::exp(phi_t - phi_s);
    const at::Tensor v_s = variance(s[i]);
    const at::Tensor v_t = variance(t[i]);
    at::Tensor v_ts;
    if (panel_index(std::min(t[i], T_)) - panel_index(s[i]) <= kDirectTransitionPanels) {
      v_ts = variance_between(s[i], t[i]);
    } else {
      v_ts = at::clamp_min(v_t - m_ts.square() * v_s, 0.0);
    }
    const at::Tensor positive = v_t > 0;
    const at::Tensor safe_vt = at::where(positive, v_t, at::ones_like(v_t));
    const at::Tensor gain = at::where(positive, m_ts * v_s / safe_vt, at::zeros_like(v_t));
    mxt.push_back(gain);
    mx0.push_back(m_s - gain * m_t);
    var.push_back(at::where(positive, v_s * v_ts / safe_vt, at::zeros_like(v_t)));
  }
  return {at::stack(mx0).unsqueeze(1), at::stack(mxt).unsqueeze(1), at::stack(var).unsqueeze(1)};
}

Transition LinearProcess::transition(const at::Tensor& xt, const at::Tensor& x0,
                                     std::span<const double> s, std::span<const double> t) const {
  const TransitionFactors f = transition_factors(s, t);
  return {basis().multiply(x0, f.mean_x0) + basis().multiply(xt, f.mean_xt), f.variance};
}

}  // namespace spdec::runtime
