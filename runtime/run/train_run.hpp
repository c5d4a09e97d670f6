// The `spdec run train` job: train a U-Net for a run's process with the
// objective `train.objective` resolves to, and keep everything a later
// `spdec run sample` or a resumed run needs in <run.dir>:
//
//   checkpoint.pt       model, EMA, optimiser, step, prior, config, process
//                       fingerprint (runtime/training/checkpoint.hpp), atomically
//                       replaced every train.checkpoint_every steps, at the
//                       end, and on SIGINT/SIGTERM
//   train_log.jsonl     a line per train.log_every steps: step, loss, lr,
//                       grad_norm, seconds
//   samples/step_N.png  a grid from the EMA weights every train.sample_every
//   config.toml         the resolved config
//
// A run directory that holds a checkpoint is resumed: on the CPU the loss
// curve continues bit for bit as if never stopped (every random draw of a
// step is keyed by (train.seed, step)). A non-finite loss or gradient norm
// stops the run before the optimiser step, naming the step. Before weights
// replace checkpoint.pt, the network and the EMA network run on a fixed probe
// batch (a few training images perturbed at a few times); weights whose
// output there is not finite stop the run instead, so checkpoint.pt is always
// the last checkpoint whose forward pass is finite. When the non-finite loss
// comes right after a checkpoint (from the very weights it holds),
// checkpoint.prev.pt is moved back over it: a resume with a lower train.lr
// then goes on from weights that gave a finite loss.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "lang/process.hpp"
#include "runtime/config/run_config.hpp"
#include "runtime/distributed/rank_group.hpp"

namespace spdec::runtime {

/// Test and embedding hooks.
struct TrainHooks {
  /// Called with each step's loss before the backward pass (tests inject
  /// NaN here).
  std::function<void(std::int64_t step, at::Tensor& loss)> on_loss;
  /// Stop (checkpoint and return) before this many steps are done, as if
  /// interrupted; 0 = never.
  std::int64_t stop_after = 0;
  /// `spdec run train --fresh`: start at step 0 even where run.dir holds a
  /// run's history (checkpoint.pt, train_log.jsonl, samples), discarding it;
  /// without it such a directory with no usable checkpoint is refused.
  bool fresh = false;
};

struct TrainSummary {
  std::int64_t first_step = 0;  ///< the step it started (or resumed) from
  std::int64_t steps = 0;       ///< steps completed in total
  bool interrupted = false;
  double last_loss = 0.0;
  /// The learned knots at the end, one vector per learnable schedule (empty
  /// for a process without them; docs/learnable_schedules.md).
  std::vector<std::vector<double>> knots;
  std::string objective;
  std::filesystem::path checkpoint;
};

/// A non-finite loss, gradient or probe output: the run stopped; the message
/// names the step, the step checkpoint.pt holds and how to resume.
class TrainingDiverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Runs (or resumes) training; `log` gets the progress and the messages.
/// Throws TrainingDiverged, or std::runtime_error / std::invalid_argument
/// naming what is wrong (data, checkpoint, objective, I/O).
TrainSummary run_train(const config::RunConfig& config, const lang::Process& process,
                       std::ostream& log, const TrainHooks& hooks = {});

/// The same as one rank of a data-parallel job: every rank trains on its
/// shard of each global batch (the same global batches and the same loss
/// curve, up to the order of float sums, on any number of ranks) and the
/// gradients are summed over the ranks; rank 0 alone reads and writes
/// run.dir (the prior fit, the checkpoints, the log, the sample grids, the
/// progress), starts the others from its state and keeps the EMA. A
/// checkpoint resumes on any number of ranks. Every rank must call it; a
/// rank that fails or hangs makes the others throw RankFailure.
TrainSummary run_train(const config::RunConfig& config, const lang::Process& process,
                       std::ostream& log, const TrainHooks& hooks, RankGroup& ranks);

/// <run.dir>/checkpoint.pt
[[nodiscard]] std::filesystem::path checkpoint_path(const config::RunConfig& config);

}  // namespace spdec::runtime
