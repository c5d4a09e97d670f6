// Where a rank of a data-parallel job learns its place: the environment
// torchrun sets (and `spdec run JOB --nproc N`, runtime/distributed/
// local_launcher.hpp, sets the same way):
//
//   RANK, WORLD_SIZE              this rank and the number of ranks
//   LOCAL_RANK, LOCAL_WORLD_SIZE  the same on this machine (the GPU index;
//                                 how many ranks share its cores)
//   MASTER_ADDR, MASTER_PORT      the rendezvous TCPStore
//   TORCHELASTIC_USE_AGENT_STORE  "True": the launcher hosts that store
//                                 (torchrun's agent, or --nproc), so it
//                                 outlives any rank; otherwise rank 0 hosts it
//   TORCHELASTIC_RESTART_COUNT    the agent store's key prefix
//                                 (/worker/attempt_<n>), as torch's env://
//                                 rendezvous uses it
//
// No variables (or WORLD_SIZE=1): one process, no rendezvous.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace spdec::runtime {

struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  std::uint16_t master_port = 0;
  bool agent_store = false;  ///< the launcher hosts the store
  std::string store_prefix;  ///< with the agent's store: /worker/attempt_<n>
};

/// A variable that is missing or malformed, named with its value.
class LaunchEnvError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads a variable; std::getenv by default.
using EnvReader = std::function<const char*(const char*)>;

/// The job's place from the torchrun variables; nullopt for one process
/// (neither RANK nor WORLD_SIZE set, or WORLD_SIZE=1). Throws LaunchEnvError
/// naming the variable when one is set but another is missing, or a value is
/// not a number in range.
[[nodiscard]] std::optional<LaunchEnv> read_launch_env(const EnvReader& env = {});

}  // namespace spdec::runtime
