// What each rank of a job leaves in the rendezvous store so that, when a
// collective fails, the others can say which rank to blame and why:
//
//   pid/<r>     "<host> <pid>": a rank on this machine whose process is gone
//               (or a zombie) died; one that is stopped (SIGSTOP) hangs
//   at/<r>      "<n> <what>": the n-th collective the rank entered, named
//               ("the all-reduce of step 12's gradients"): a rank that is
//               alive but behind is the one that hangs
//   failed/<r>  the rank's own error, left as it stops (report_failure); the
//               --nproc launcher leaves the exit status of a rank that died
//
// One store round trip per collective entered: microseconds on one machine,
// a network round trip across machines, against a training step's
// milliseconds.
#pragma once

#include <cstdint>
#include <string>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <vector>

namespace spdec::runtime {

class PeerLedger {
 public:
  PeerLedger(c10::intrusive_ptr<c10d::Store> store, int rank, int size);

  /// pid/<rank>: this process.
  void joined();
  /// at/<rank>: this rank enters its `seq`-th collective, `what`.
  void entering(std::uint64_t seq, const std::string& what);
  /// failed/<rank> = message (best effort, never throws); the launcher
  /// writes failed/<r> for a rank `r` that died (`overwrite` false keeps a
  /// message the rank left itself).
  void failed(const std::string& message) noexcept;
  static void record_failure(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                             const std::string& message, bool overwrite) noexcept;

  /// Why this rank's `seq`-th collective `what` failed with `error`: the
  /// ranks that reported a failure (waiting up to `settle` for one, since a
  /// dying rank's report and its closed connections race), else the ranks
  /// on this machine whose process is gone or stopped, else those that never reached
  /// the collective (within `timeout`, as text: "4 s"), else the error
  /// itself. Never throws: a store that is gone too is itself the answer
  /// (rank 0, or the launcher, hosted it).
  [[nodiscard]] std::string blame(std::uint64_t seq, const std::string& what,
                                  const std::string& error, double settle_seconds,
                                  const std::string& timeout) const;

  /// The ranks that have not written pid/<r> (after a failed join).
  [[nodiscard]] std::vector<int> not_joined() const;

  /// Waits until every rank has written pid/<r>, up to `timeout_seconds`
  /// (`timeout` as text, for the message);
  /// empty then, else why not: a rank that failed before it joined (its
  /// report, or the launcher's), or the ranks that never arrived. Polls the
  /// store, so that a rank that dies at start-up stops the others at once
  /// rather than after the process group's own rendezvous times out.
  [[nodiscard]] std::string wait_for_all(double timeout_seconds, const std::string& timeout) const;

 private:
  [[nodiscard]] std::string failures() const;
  [[nodiscard]] std::string gone() const;
  [[nodiscard]] std::string behind(std::uint64_t seq, const std::string& what,
                                   const std::string& timeout) const;
  [[nodiscard]] std::string read(const std::string& key) const;

  c10::intrusive_ptr<c10d::Store> store_;
  int rank_;
  int size_;
};

}  // namespace spdec::runtime
