// What drives a sampler: the score s(t, x) = ∇ₓ log p_t(x) of the forward
// process's marginal at t. A trained network (ε-parameterised: s = −L⁻ᵀ ε̂,
// runtime/spectral/covariance.hpp) and the closed-form scores of the oracle tests
// (tests/runtime/analytic_score.hpp) both implement it, so every sampler is
// proven with an analytic score before a network ever drives it.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <utility>

namespace spdec::runtime {

class ScoreFunction {
 public:
  ScoreFunction() = default;
  ScoreFunction(const ScoreFunction&) = delete;
  ScoreFunction& operator=(const ScoreFunction&) = delete;
  ScoreFunction(ScoreFunction&&) = delete;
  ScoreFunction& operator=(ScoreFunction&&) = delete;
  virtual ~ScoreFunction() = default;

  /// s(t, x) for x [N, C, H, W] float32, every sample at time t; the result
  /// has x's shape, dtype and device.
  [[nodiscard]] virtual at::Tensor operator()(const at::Tensor& x, double t) = 0;
};

/// A score from a callable (tests, small tools).
class LambdaScore final : public ScoreFunction {
 public:
  using Function = std::function<at::Tensor(const at::Tensor&, double)>;
  explicit LambdaScore(Function function) : function_(std::move(function)) {}
  [[nodiscard]] at::Tensor operator()(const at::Tensor& x, double t) override {
    return function_(x, t);
  }

 private:
  Function function_;
};

}  // namespace spdec::runtime
