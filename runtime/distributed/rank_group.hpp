// The ranks of a data-parallel job and the collectives among them, over
// PyTorch's distributed engine (c10d): ProcessGroupGloo on the CPU,
// ProcessGroupNCCL where the tensors are on CUDA and LibTorch has it
// (train.distributed.backend overrides), joined through a c10d TCPStore at
// MASTER_ADDR:MASTER_PORT (runtime/distributed/launch_env.hpp).
//
// One process is a group of one: every collective is the identity, so the
// jobs run the same code on one rank or many.
//
// A collective that fails never hangs silently: Gloo stops it after the
// timeout (train.distributed.timeout), and a peer that dies closes its
// connections at once. Either way the collective throws RankFailure naming
// the rank to blame, found through the store: a rank that failed leaves its
// error there (report_failure; the --nproc launcher leaves the exit status of
// a rank that died), a rank on this machine whose process is gone or stopped
// is named by its pid, and a rank that is alive but never arrived is named
// with the last collective it entered.
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/config/choices.hpp"
#include "runtime/distributed/launch_env.hpp"

namespace spdec::runtime {

/// A collective that failed because of another rank (or its store): the
/// message names that rank and what it was doing.
class RankFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct GroupOptions {
  config::DistributedBackend backend = config::DistributedBackend::automatic;
  std::chrono::milliseconds timeout{600000};
  bool cuda = false;  ///< the job's tensors are on CUDA (auto = NCCL then, where built)
};

class RankGroup {
 public:
  /// One process: rank 0 of 1.
  RankGroup();
  RankGroup(const RankGroup&) = delete;
  RankGroup& operator=(const RankGroup&) = delete;
  RankGroup(RankGroup&&) = delete;
  RankGroup& operator=(RankGroup&&) = delete;
  ~RankGroup();

  /// Joins the job `env` describes: connects to (or, on rank 0 without an
  /// agent store, hosts) the TCPStore and builds the process group, which
  /// waits for every rank. Throws RankFailure naming the ranks that did not
  /// join within the timeout, std::runtime_error when the store cannot be
  /// reached or the backend is not available in this build.
  static std::unique_ptr<RankGroup> join(const LaunchEnv& env, const GroupOptions& options);

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int size() const { return size_; }
  [[nodiscard]] bool is_root() const { return rank_ == 0; }
  [[nodiscard]] int local_rank() const { return local_rank_; }
  [[nodiscard]] int local_size() const { return local_size_; }
  /// "gloo" or "nccl"; "none" for one process.
  [[nodiscard]] const std::string& backend() const { return backend_; }
  [[nodiscard]] std::chrono::milliseconds timeout() const { return timeout_; }
  /// Where collective buffers live: the CPU for Gloo, the rank's GPU for NCCL.
  [[nodiscard]] at::Device collective_device() const { return device_; }
  /// "rank 1 of 2", for messages.
  [[nodiscard]] std::string describe() const;

  /// Sums each tensor over the ranks, in place (tensors on
  /// collective_device()). The collectives are started together and waited
  /// for together. `what` names them in errors ("the all-reduce of step 12's
  /// gradients").
  void all_reduce_sum(std::vector<at::Tensor>& tensors, const std::string& what);

  /// Rank 0's tensors, into every rank's (same shapes; on collective_device()).
  void broadcast(std::vector<at::Tensor>& tensors, const std::string& what);

  /// Rank 0's bytes on every rank (the argument is ignored on the others).
  [[nodiscard]] std::string broadcast_bytes(const std::string& bytes, const std::string& what);

  /// Rank 0's flag on every rank: a decision only rank 0 can make (it alone
  /// may see run.dir) that every rank must follow.
  [[nodiscard]] bool broadcast_flag(bool flag, const std::string& what);

  /// Every rank's rows, in rank order, on rank 0 (float32 [Σ counts, ...] on
  /// the CPU); an undefined tensor on the others. `rows` is this rank's,
  /// float32 [counts[rank()], ...]; `counts` every rank's row count.
  [[nodiscard]] at::Tensor gather_rows(const at::Tensor& rows,
                                       const std::vector<std::int64_t>& counts,
                                       const std::string& what);

  /// Leaves this rank's error for the others' messages (best effort: the
  /// store may be gone too). Call it before the process exits on an error.
  void report_failure(const std::string& message) noexcept;

  class Impl;

 private:
  explicit RankGroup(std::unique_ptr<Impl> impl);
  /// Enters collective `what`, runs `start` (which launches it), waits for
  /// its work; a failure becomes RankFailure naming the rank to blame.
  template <typename Start>
  void collective(const std::string& what, const Start& start);

  std::unique_ptr<Impl> impl_;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  std::string backend_ = "none";
  std::chrono::milliseconds timeout_{600000};
  at::Device device_{at::kCPU};
};

/// The GPU of a rank: cuda:<local_rank> (modulo the GPUs this machine has).
[[nodiscard]] at::Device local_cuda_device(int local_rank);

}  // namespace spdec::runtime
