// What drives the stable samplers: a denoiser D(x, t) ≈ E[x₀ | X_t = x]
// (data prediction). A network trained in the denoiser parameterisation
// (runtime/process/preconditioner.hpp) is one; so are the closed forms of the oracle
// tests. Samplers that need a score get it from D through the process model
// (ProcessModel::score_from_denoised), and score-based estimators (an
// ε-network, an analytic score) give a denoiser through Tweedie's formula
// (ProcessModel::denoise) — so every sampler runs with either.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <utility>

#include "runtime/process/process_model.hpp"
#include "runtime/process/score_function.hpp"

namespace spdec::runtime {

class Denoiser {
 public:
  Denoiser() = default;
  Denoiser(const Denoiser&) = delete;
  Denoiser& operator=(const Denoiser&) = delete;
  Denoiser(Denoiser&&) = delete;
  Denoiser& operator=(Denoiser&&) = delete;
  virtual ~Denoiser() = default;

  /// x̂₀ for x [N, C, H, W], every sample at time t; x's shape, dtype, device.
  [[nodiscard]] virtual at::Tensor operator()(const at::Tensor& x, double t) = 0;
};

/// A denoiser from a callable (tests, small tools).
class LambdaDenoiser final : public Denoiser {
 public:
  using Function = std::function<at::Tensor(const at::Tensor&, double)>;
  explicit LambdaDenoiser(Function function) : function_(std::move(function)) {}
  [[nodiscard]] at::Tensor operator()(const at::Tensor& x, double t) override {
    return function_(x, t);
  }

 private:
  Function function_;
};

/// D from a score by Tweedie's formula (the model's denoise).
class DenoiserFromScore final : public Denoiser {
 public:
  DenoiserFromScore(ProcessModel& model, ScoreFunction& score) : model_(model), score_(score) {}
  [[nodiscard]] at::Tensor operator()(const at::Tensor& x, double t) override {
    return model_.denoise(x, t, score_(x, t));
  }

 private:
  ProcessModel& model_;
  ScoreFunction& score_;
};

/// The score from D (the model's score_from_denoised).
class ScoreFromDenoiser final : public ScoreFunction {
 public:
  ScoreFromDenoiser(ProcessModel& model, Denoiser& denoiser) : model_(model), denoiser_(denoiser) {}
  [[nodiscard]] at::Tensor operator()(const at::Tensor& x, double t) override {
    return model_.score_from_denoised(x, t, denoiser_(x, t));
  }

 private:
  ProcessModel& model_;
  Denoiser& denoiser_;
};

}  // namespace spdec::runtime
