// Training objectives (docs/design.md §3, `train.objective`). Every objective regresses
// the network on draws of the forward process and returns a scalar loss;
// the network never sees the process, only states and times.
//
//   exact          linear processes (docs/design.md §2): X_t = m_t x₀ + L_t ε
//                  exactly; exact denoising score matching.
//   decoupled      `semantics decoupled` (§2): X_t = Φ_t(x₀) + L_t ε, the
//                  same loss (exact DSM for this family).
//   local_dsm      `semantics sde` (§2): the tamed EM chain to t − h, then
//                  its last step N(m, L_h L_hᵀ) as the DSM kernel; antithetic
//                  endpoints m ± L_h ε share the chain (variance reduction).
//   sliced         any semantics: sliced score matching on draws X_t (needs
//                  only samples; one extra backward through the network).
//   flow_matching  the OT path of Lipman et al. (x_t = (1 − t) x₀ + t z,
//                  velocity z − x₀) on [0, 1]; ignores the process except for
//                  the image shape, for comparison.
//
// What the network's output means is the parameterisation: for exact and
// decoupled, `denoiser` (data prediction with per-mode EDM preconditioning,
// runtime/process/preconditioner.hpp: nothing divides by the forward multiplier) or
// `noise` (ε-prediction, s = −C_t⁺ᵀ ε̂, runtime/process/score_parametrization.hpp);
// local_dsm and sliced regress scores and keep `noise`; flow_matching a
// velocity.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/config/choices.hpp"
#include "runtime/process/process_model.hpp"

namespace spdec::runtime {

using lang::ObjectiveKind;
/// name(ObjectiveKind), name(Parameterisation), name(ModelKind): the tables'.
using lang::name;

struct ObjectiveChoice {
  ObjectiveKind kind = ObjectiveKind::exact;
  std::string reason;  ///< why (for `auto`: which exact objective the classification allows)
};

/// `train.objective` for a model, as its process's training plan
/// (lang/training_plan.hpp) decides: "auto" (nullopt) is the plan's first exact
/// objective; an objective the plan does not accept throws
/// std::invalid_argument with the plan's reason and what would work.
[[nodiscard]] ObjectiveChoice choose_objective(std::optional<ObjectiveKind> requested,
                                               const ProcessModel& model);

/// The network as an objective sees it: its output for states x [N, C, H, W]
/// at per-sample times t (float [N] on x's device; process time, or the
/// flow's time in [0, 1]).
using Network = std::function<at::Tensor(const at::Tensor& x, const at::Tensor& t)>;

/// One training step's draw: data, per-sample times and the noise stream.
/// On a rank of a data-parallel job the N rows are rows row_offset ..
/// row_offset + N − 1 of a global batch of global_rows, and every draw of a
/// row is keyed by its global row: row i gets the same noise on any number of
/// ranks.
struct TrainingDraw {
  at::Tensor x0;              ///< [N, C, H, W] float
  std::vector<double> times;  ///< N times in the objective's range
  std::uint64_t seed = 0;
  std::uint64_t step = 0;  ///< the training step (keys every noise draw)
  std::int64_t row_offset = 0;
  std::int64_t global_rows = 0;  ///< 0: N (the whole batch)
  /// The global batch's size.
  [[nodiscard]] std::int64_t batch_rows() const {
    return global_rows > 0 ? global_rows : x0.size(0);
  }
};

using lang::Parameterisation;

/// `model.parameterisation` for an objective, as the training plan decides:
/// "auto" (nullopt) picks denoiser for exact and decoupled when X_t | x₀ has x₀-free
/// per-mode scales, noise otherwise; "denoiser" where it cannot serve throws
/// std::invalid_argument saying why.
[[nodiscard]] Parameterisation choose_parameterisation(std::optional<Parameterisation> requested,
                                                       ObjectiveKind objective,
                                                       const ProcessModel& model);

class Preconditioner;

struct ObjectiveOptions {
  config::Projections projections = config::Projections::rademacher;  ///< sliced
  Parameterisation parameterisation = Parameterisation::noise;
  /// denoiser: the data's spectrum (must outlive the objective).
  const Preconditioner* preconditioner = nullptr;
  /// denoiser: `mode` weighs every mode's F equally, `pixel` D's error in
  /// pixels (runtime/training/objective_denoiser.cpp); auto = pixel.
  config::LossWeighting weighting = config::LossWeighting::automatic;
};

class Objective {
 public:
  Objective() = default;
  Objective(const Objective&) = delete;
  Objective& operator=(const Objective&) = delete;
  Objective(Objective&&) = delete;
  Objective& operator=(Objective&&) = delete;
  virtual ~Objective() = default;

  [[nodiscard]] virtual ObjectiveKind kind() const = 0;
  /// The interval times are drawn from.
  [[nodiscard]] virtual double min_time() const = 0;
  [[nodiscard]] virtual double max_time() const = 0;
  /// The loss (a differentiable scalar) for the draw.
  [[nodiscard]] virtual at::Tensor loss(const Network& network, const TrainingDraw& draw) = 0;
};

/// The objective of `kind` over `model` (which must outlive it).
[[nodiscard]] std::unique_ptr<Objective> make_objective(ObjectiveKind kind, ProcessModel& model,
                                                        const ObjectiveOptions& options = {});

/// n training times on [lo, hi], the same for the same (seed, step) on every
/// machine: uniform, or log_uniform (uniform in log t, more weight at small
/// t). Throws std::invalid_argument for lo ≤ 0 with log_uniform, and for
/// log_normal (which needs the process: log_normal_times).
[[nodiscard]] std::vector<double> training_times(std::int64_t n, double lo, double hi,
                                                 config::TimeSampling kind, std::uint64_t seed,
                                                 std::uint64_t step);

/// EDM's training noise levels (Karras et al. 2022, arXiv:2206.00364,
/// table 1): ln σ ~ N(p_mean, p_std²) from the same keyed stream as
/// training_times (Box–Muller), each mapped to its time by `time_of_sigma`
/// and clamped to [lo, hi].
[[nodiscard]] std::vector<double> log_normal_times(
    std::int64_t n, double lo, double hi, double p_mean, double p_std,
    const std::function<double(double)>& time_of_sigma, std::uint64_t seed, std::uint64_t step);

/// The per-sample sample ids of a training draw: the noise stream of row i of
/// step `step` (distinct from every other row and step), for rows
/// first .. first + n − 1 of the global batch.
[[nodiscard]] at::Tensor training_sample_ids(std::int64_t n, std::uint64_t step,
                                             const at::Device& device, std::int64_t first = 0);

/// A draw's rows of a tensor drawn for the whole global batch ([global_rows,
/// ...] → [N, ...]): the generator-driven draws (flow matching's z, sliced
/// score matching's projections) are drawn whole on every rank so that row i
/// is the same on any number of ranks.
[[nodiscard]] at::Tensor rows_of_draw(const at::Tensor& whole, const TrainingDraw& draw);

}  // namespace spdec::runtime
