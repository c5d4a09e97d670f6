// The objectives' constructors, for make_objective (runtime/training/objective.cpp);
// each lives in its own file.
#pragma once

#include <memory>

#include "runtime/training/objective.hpp"

namespace spdec::runtime {

[[nodiscard]] std::unique_ptr<Objective> make_noise_prediction_objective(ObjectiveKind kind,
                                                                         ProcessModel& model);
[[nodiscard]] std::unique_ptr<Objective> make_denoising_objective(ObjectiveKind kind,
                                                                  ProcessModel& model,
                                                                  const ObjectiveOptions& options);
[[nodiscard]] std::unique_ptr<Objective> make_local_dsm_objective(ProcessModel& model);
[[nodiscard]] std::unique_ptr<Objective> make_sliced_objective(ProcessModel& model,
                                                               const ObjectiveOptions& options);
[[nodiscard]] std::unique_ptr<Objective> make_flow_matching_objective();

/// The noise stream of a training draw: seed, and row i of step k as sample
/// id k·2²⁰ + i (training_sample_ids).
[[nodiscard]] NoiseSource training_noise(const TrainingDraw& draw);

/// Times as a float tensor [N] on `device`.
[[nodiscard]] at::Tensor time_tensor(const std::vector<double>& times, const at::Device& device);

/// The process's training interval [t₀, T] (t₀ = dt when the process says 0:
/// X_0 is the data, which has no score).
[[nodiscard]] double process_min_time(const ProcessModel& model);

}  // namespace spdec::runtime
