// Closed-form scores for the sampler oracles (docs/design.md §6): the exact
// ∇ log p_t of (a) Gaussian data under a linear process and (b) data made of
// K fixed images under any process whose X_t | x₀ is Gaussian with a
// covariance that does not depend on x₀ (linear; decoupled with additive
// noise). Computed in double.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "runtime/process/denoiser.hpp"
#include "runtime/process/process_model.hpp"
#include "runtime/process/score_function.hpp"
#include "runtime/spectral/covariance.hpp"
#include "runtime/spectral/linear_process.hpp"

namespace spdec::test {

/// Data N(μ, Φ diag(c) Φᵀ) under a linear process: X_t is Gaussian with
/// per-mode mean m_t μ̂ and variance m_t² c + v_t, so
/// s(t, x) = −Φ diag(1 / (m_t² c + v_t)) Φᵀ (x − Φ m_t Φᵀ μ).
/// The per-mode factors are computed in double, the transforms in x's dtype
/// (float32: relative error ~1e-7 of the score, far below what the oracles
/// resolve, at half the cost).
class GaussianDataScore final : public runtime::ScoreFunction {
 public:
  GaussianDataScore(const runtime::LinearProcess& process, at::Tensor mean,
                    at::Tensor mode_variance)
      : process_(process), mean_(std::move(mean)), c_(std::move(mode_variance)) {}

  at::Tensor operator()(const at::Tensor& x, double t) override {
    const auto& basis = process_.basis();
    const at::Tensor m = process_.mean_factor(t);
    const at::Tensor centred = x - basis.multiply(mean_, m).to(x.scalar_type());
    return -basis.multiply(centred, 1.0 / (m * m * c_ + process_.variance(t)));
  }

 private:
  const runtime::LinearProcess& process_;
  at::Tensor mean_;  ///< [C, H, W] double
  at::Tensor c_;     ///< [H, W] double, per mode
};

/// The same data's exact denoiser E[x₀ | X_t = x]: per mode the Wiener filter
///   D = μ + Φ diag(m_t c / (m_t² c + v_t)) Φᵀ (x − Φ m_t Φᵀ μ),
/// which never divides by m_t (m_t = 0 after underflow gives D = μ), and its
/// posterior variance Γ = c v_t / (m_t² c + v_t) per mode.
class GaussianDataDenoiser final : public runtime::Denoiser {
 public:
  GaussianDataDenoiser(const runtime::LinearProcess& process, at::Tensor mean,
                       at::Tensor mode_variance)
      : process_(process), mean_(std::move(mean)), c_(std::move(mode_variance)) {}

  at::Tensor operator()(const at::Tensor& x, double t) override {
    const auto& basis = process_.basis();
    const at::Tensor m = process_.mean_factor(t);
    const at::Tensor centred = x - basis.multiply(mean_, m).to(x.scalar_type());
    const at::Tensor gain = m * c_ / (m * m * c_ + process_.variance(t));
    return (mean_.to(x.scalar_type()) + basis.multiply(centred, gain)).to(x.scalar_type());
  }

  /// Γ(t) per mode, [H, W] double.
  [[nodiscard]] at::Tensor posterior_variance(double t) const {
    const at::Tensor m = process_.mean_factor(t);
    const at::Tensor v = process_.variance(t);
    return c_ * v / (m * m * c_ + v);
  }

 private:
  const runtime::LinearProcess& process_;
  at::Tensor mean_;  ///< [C, H, W] double
  at::Tensor c_;     ///< [H, W] double, per mode
};

/// Data = image k of `images` ([K, C, H, W]) with probability w_k. X_t | x₀ =
/// y_k is N(μ_k(t), Σ_t) with Σ_t shared, so p_t is a Gaussian mixture and
///   s(t, x) = −Σ_k r_k(x) Σ_t⁻¹ (x − μ_k(t)),
///   r = softmax_k(log w_k − ½ ‖L⁻¹(x − μ_k)‖²)   (the exact posterior weights).
/// μ_k(t) is the model's conditional mean (perturb's `mean`: M_t y_k for a
/// linear process, the flow Φ_t(y_k) for a decoupled one), cached per t.
class MixtureScore final : public runtime::ScoreFunction {
 public:
  MixtureScore(runtime::ProcessModel& model, at::Tensor images, std::vector<double> weights)
      : model_(model), images_(std::move(images)), weights_(std::move(weights)) {}

  at::Tensor operator()(const at::Tensor& x, double t) override {
    const auto [r, grads] = posterior(x, t);
    const std::int64_t n = x.size(0);
    const std::int64_t k = images_.size(0);
    return (-(r.view({n, k, 1, 1, 1}) * grads).sum(1)).to(x.scalar_type());
  }

  /// E[x₀ | X_t = x] = Σ_k r_k(x) y_k: the exact denoiser of this data.
  [[nodiscard]] at::Tensor denoised(const at::Tensor& x, double t) {
    const at::Tensor r = posterior(x, t).first;  // [N, K]
    return r.mm(images_.to(at::kDouble).flatten(1)).view(x.sizes()).to(x.scalar_type());
  }

  /// The posterior weights r [N, K] and Σ_t⁻¹ (x − μ_k(t)) [N, K, C, H, W].
  std::pair<at::Tensor, at::Tensor> posterior(const at::Tensor& x, double t) {
    const std::int64_t n = x.size(0);
    const std::int64_t k = images_.size(0);
    const at::Tensor mu = means(t).to(at::kDouble);                         // [K, C, H, W]
    const at::Tensor d = x.to(at::kDouble).unsqueeze(1) - mu.unsqueeze(0);  // [N, K, C, H, W]
    const at::Tensor flat = d.flatten(0, 1);                                // [N·K, C, H, W]
    const runtime::Covariance sigma = model_.covariance(t, x, x);
    const at::Tensor e = sigma.apply_inverse_sqrt(flat);
    const at::Tensor quad = e.square().sum({1, 2, 3}).view({n, k});
    const at::Tensor logw = at::log(at::tensor(weights_, at::kDouble)).unsqueeze(0);
    const at::Tensor r = at::softmax(logw - 0.5 * quad, 1);  // [N, K]
    const at::Tensor grads = sigma.apply_inverse_sqrt_transpose(e).view(d.sizes());
    return {r, grads};
  }

  /// The posterior weights' argmax image for samples x at t₀ ≈ 0: which
  /// image each sample is nearest to, and the distance.
  [[nodiscard]] std::pair<at::Tensor, at::Tensor> nearest(const at::Tensor& x) const {
    const at::Tensor d = (x.to(at::kDouble).unsqueeze(1) - images_.to(at::kDouble).unsqueeze(0))
                             .flatten(2)
                             .norm(2, {2});
    auto [distance, index] = d.min(1);
    return {index, distance};
  }

 private:
  at::Tensor means(double t) {
    auto it = cache_.find(t);
    if (it != cache_.end()) return it->second;
    const std::vector<double> times(static_cast<std::size_t>(images_.size(0)), t);
    runtime::NoiseSource noise;
    at::Tensor mu = t == 0.0 ? images_ : model_.perturb(images_, times, noise).mean;
    if (cache_.size() > 4096) cache_.clear();
    return cache_.emplace(t, mu).first->second;
  }

  runtime::ProcessModel& model_;
  at::Tensor images_;
  std::vector<double> weights_;
  std::map<double, at::Tensor> cache_;
};

/// A mixture's exact denoiser as a runtime::Denoiser.
class MixtureDenoiser final : public runtime::Denoiser {
 public:
  explicit MixtureDenoiser(MixtureScore& mixture) : mixture_(mixture) {}
  at::Tensor operator()(const at::Tensor& x, double t) override { return mixture_.denoised(x, t); }

 private:
  MixtureScore& mixture_;
};

}  // namespace spdec::test
