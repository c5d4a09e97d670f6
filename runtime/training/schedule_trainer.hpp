// Joint training of learnable schedules: the knots
// (runtime/training/learned_schedule.hpp), their own Adam optimiser, and one
// step of the trajectory objective (runtime/training/schedule_objective.hpp)
// per training step, drawn from the step's batch. The network keeps its own
// objective; only the knots take this objective's gradient.
//
// Every draw of a step (times uniform on [t0, T], the noise, the Hutchinson
// directions) is keyed by (seed, step), so a resumed run takes the steps the
// uninterrupted one would have, bit for bit on the CPU.
#pragma once

#include <torch/optim/adam.h>

#include <cstdint>
#include <memory>
#include <string>

#include "lang/process.hpp"
#include "runtime/training/schedule_objective.hpp"

namespace spdec::runtime {

struct ScheduleTrainingOptions {
  double lr = 1e-3;     ///< train.schedule_lr (the peak; scaled like the network's)
  double offset = 0.5;  ///< train.schedule_offset: c in the weight Ṁ / √(M (M + c))
  int probes = 1;       ///< train.schedule_probes: Hutchinson directions per step
  std::uint64_t seed = 0;
};

class ScheduleTrainer {
 public:
  /// Throws std::runtime_error naming the process's file when its learnable
  /// schedules cannot be trained (learnable_modes, LearnedSchedules).
  ScheduleTrainer(const lang::Process& process, const NoiseOperator& noise,
                  const ScheduleTrainingOptions& options);

  /// One optimiser step of the knots on the batch x0 with the network's flow,
  /// at learning rate `lr`; returns the objective's loss before the step.
  double step(const FlowFunction& flow, const at::Tensor& x0, std::uint64_t key, double lr);

  [[nodiscard]] LearnedSchedules& schedules() { return *schedules_; }
  [[nodiscard]] const LearnedSchedules& schedules() const { return *schedules_; }
  [[nodiscard]] torch::optim::Adam& optimizer() { return *optimizer_; }
  [[nodiscard]] const ScheduleTrainingOptions& options() const { return options_; }

  /// A line for the progress output: each schedule's knots at five places
  /// as multiples of their init values ("g ×1.00 ×0.93 ×1.21 ×1.08 ×1.00").
  [[nodiscard]] std::string summary() const;
  /// Every knot of every schedule, learned and init, one line per schedule.
  [[nodiscard]] std::string table() const;

 private:
  NoiseOperator noise_;  ///< a copy: the process model is rebuilt as the knots move
  LearnableModes modes_;
  std::shared_ptr<LearnedSchedules> schedules_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  ScheduleTrainingOptions options_;
  double t_begin_ = 0;
  double t_end_ = 1;
};

}  // namespace spdec::runtime
