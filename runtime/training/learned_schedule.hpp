// The knots of a process's learnable schedules (specs/LANGUAGE.md §10) as
// parameters trained with the network.
//
// Parameterisation (after Liu, Li & Cheng 2026, "Variational trajectory
// optimization of anisotropic diffusion schedules", arXiv:2602.19512): the end
// knots keep their init values; the log-values in between climb from the
// first to the last by positive increments,
//
//   log g_k = log g_0 + (log g_{N-1} − log g_0) · C_k / C_{N-1},
//   C_k = Σ_{j<k} (softplus(δ_j) + ε),
//
// so every value is positive and the knots are increasing, whatever the raw
// parameters δ become under the optimiser; the parameters are δ, N − 1 per
// schedule. δ starts at the inverse softplus of the init's increments, which
// reproduces the init values. This needs increasing init values (a VE
// schedule's rate is): a schedule whose init is not is refused.
//
// The schedule is the variance rate q(t) of the modes that use it (log-linear
// between knots, held outside [t0, T], as lang/evaluate.hpp interpolates), and
// its variance M(t) = ∫₀ᵗ q(s) ds is closed-form per segment: on a segment of
// length Δ whose values go from q_k to q_{k+1}, ∫ = Δ q_k (r^w − 1) / log r
// up to the fraction w of it, r = q_{k+1} / q_k. Both are differentiable in δ.
#pragma once

#include <torch/nn/module.h>

#include <cstddef>
#include <string>
#include <vector>

#include "lang/process.hpp"
#include "runtime/spectral/noise_operator.hpp"

namespace spdec::runtime {

class LearnedSchedules : public torch::nn::Module {
 public:
  /// One parameter per lang::Learnable of `process`, named after the
  /// schedule, double on the CPU. Throws std::runtime_error naming the
  /// process's file and the schedule when its init values do not increase.
  explicit LearnedSchedules(const lang::Process& process);

  [[nodiscard]] std::size_t count() const { return schedules_.size(); }
  [[nodiscard]] const std::string& name(std::size_t i) const { return schedules_[i].name; }
  [[nodiscard]] const std::vector<double>& knot_times(std::size_t i) const {
    return schedules_[i].times;
  }
  /// The init knot values of schedule i (the spec's).
  [[nodiscard]] const std::vector<double>& init_values(std::size_t i) const {
    return schedules_[i].init;
  }

  /// log g_k of schedule i, [N] double, differentiable in the parameters.
  [[nodiscard]] at::Tensor log_knots(std::size_t i) const;
  /// The current knot values of every schedule (detached), in the form the
  /// process models and kernels take.
  [[nodiscard]] KnotValues values() const;
  /// q_i(t) for times t [B] double: the rate, differentiable.
  [[nodiscard]] at::Tensor rate(std::size_t i, const at::Tensor& t) const;
  /// M_i(t) = ∫₀ᵗ q_i(s) ds for times t [B] double, differentiable.
  [[nodiscard]] at::Tensor variance(std::size_t i, const at::Tensor& t) const;

 private:
  struct Schedule {
    std::string name;
    std::vector<double> times;
    std::vector<double> init;
    at::Tensor delta;  ///< the raw increments, [N − 1], registered as a parameter
  };
  std::vector<Schedule> schedules_;
};

/// The two numbers of an interpolation segment for times t [B]: which
/// segment (clamped to [0, N − 2]) and the fraction w ∈ [0, 1] of it.
struct KnotSegment {
  at::Tensor index;     ///< [B] int64
  at::Tensor fraction;  ///< [B] double
};
[[nodiscard]] KnotSegment knot_segment(const std::vector<double>& times, const at::Tensor& t);

}  // namespace spdec::runtime
