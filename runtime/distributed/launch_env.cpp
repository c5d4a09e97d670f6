#include "runtime/distributed/launch_env.hpp"

#include <cerrno>
#include <cstdlib>
#include <limits>

namespace spdec::runtime {
namespace {

const char* lookup(const EnvReader& env, const char* name) {
  return env ? env(name) : std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read once, at start
}

/// An integer in [lo, hi] from `name`, or `fallback` when unset.
long number(const EnvReader& env, const char* name, long lo, long hi,
            std::optional<long> fallback) {
  const char* text = lookup(env, name);
  if (text == nullptr || *text == '\0') {
    if (fallback) return *fallback;
    throw LaunchEnvError(std::string(name) +
                         " is not set: a rank of a job on several processes needs RANK, "
                         "WORLD_SIZE, MASTER_ADDR and MASTER_PORT (as torchrun sets them)");
  }
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < lo || value > hi) {
    throw LaunchEnvError(std::string(name) + "=" + text + " is not an integer in [" +
                         std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return value;
}

}  // namespace

std::optional<LaunchEnv> read_launch_env(const EnvReader& env) {
  const char* rank_text = lookup(env, "RANK");
  const char* world_text = lookup(env, "WORLD_SIZE");
  const bool rank_set = rank_text != nullptr && *rank_text != '\0';
  const bool world_set = world_text != nullptr && *world_text != '\0';
  if (!rank_set && !world_set) return std::nullopt;
  constexpr long kMaxRanks = 1L << 20;
  LaunchEnv out;
  out.world_size = static_cast<int>(number(env, "WORLD_SIZE", 1, kMaxRanks, std::nullopt));
  out.rank = static_cast<int>(number(env, "RANK", 0, out.world_size - 1, std::nullopt));
  if (out.world_size == 1) return std::nullopt;
  out.local_world_size =
      static_cast<int>(number(env, "LOCAL_WORLD_SIZE", 1, out.world_size, out.world_size));
  out.local_rank =
      static_cast<int>(number(env, "LOCAL_RANK", 0, out.local_world_size - 1, out.rank));
  const char* addr = lookup(env, "MASTER_ADDR");
  if (addr == nullptr || *addr == '\0') {
    throw LaunchEnvError(
        "MASTER_ADDR is not set: the address of the rendezvous store (rank 0's machine, as "
        "torchrun sets it)");
  }
  out.master_addr = addr;
  out.master_port = static_cast<std::uint16_t>(
      number(env, "MASTER_PORT", 1, std::numeric_limits<std::uint16_t>::max(), std::nullopt));
  const char* agent = lookup(env, "TORCHELASTIC_USE_AGENT_STORE");
  out.agent_store = agent != nullptr && std::string(agent) == "True";
  if (out.agent_store) {
    const long attempt =
        number(env, "TORCHELASTIC_RESTART_COUNT", 0, std::numeric_limits<int>::max(), 0L);
    out.store_prefix = "/worker/attempt_" + std::to_string(attempt);
  }
  return out;
}

}  // namespace spdec::runtime
