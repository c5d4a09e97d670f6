// `spdec run JOB ... --nproc N`: N ranks of the job on this machine, started
// the way torchrun starts them. The launcher hosts the rendezvous TCPStore
// on a free loopback port, so the store outlives any rank, and starts N
// copies of the same command without --nproc, each with torchrun's variables
// (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
// TORCHELASTIC_USE_AGENT_STORE=True) and in a process group of its own, so
// that a terminal's Ctrl-C reaches each rank once, through the launcher.
//
// It forwards SIGINT and SIGTERM to every rank (training checkpoints and
// stops after the same step on every rank). When a rank fails, the launcher
// leaves its exit status in the store for the others' messages, gives them
// the job's timeout plus a margin to stop by themselves (they name the rank
// that failed), then sends SIGTERM and, 5 s later, SIGKILL.
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace spdec::runtime {

struct LocalLaunch {
  int ranks = 2;
  std::string program;                 ///< the executable each rank runs
  std::vector<std::string> arguments;  ///< its argv, argv[0] included, without --nproc
  std::string job;                     ///< "train", for messages
  /// The job's train.distributed.timeout: what a rank may take to notice
  /// that another failed.
  std::chrono::milliseconds timeout{600000};
};

/// Runs the ranks to their end. Returns 0 when every rank succeeded, 130
/// when they stopped on a signal (a checkpoint is written; run again to
/// resume), 1 when any failed (each failure is reported on `err`, naming the
/// rank, its pid and its exit status or signal). Throws std::runtime_error
/// when the store or a rank cannot be started.
int launch_local_ranks(const LocalLaunch& launch, std::ostream& err);

}  // namespace spdec::runtime
