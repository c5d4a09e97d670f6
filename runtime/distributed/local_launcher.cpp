#include "runtime/distributed/local_launcher.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>

#include "runtime/distributed/c10d_group.hpp"
#include "runtime/distributed/peer_ledger.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace spdec::runtime {
namespace {

std::atomic<int> g_pending_signal{0};

extern "C" void remember_signal(int signal) { g_pending_signal.store(signal); }

/// SIGINT and SIGTERM are remembered (the loop forwards them) while it
/// exists; the previous actions come back afterwards.
class SignalForwarding {
 public:
  SignalForwarding() {
    struct sigaction action {};
    action.sa_handler = remember_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
    g_pending_signal.store(0);
  }
  SignalForwarding(const SignalForwarding&) = delete;
  SignalForwarding& operator=(const SignalForwarding&) = delete;
  SignalForwarding(SignalForwarding&&) = delete;
  SignalForwarding& operator=(SignalForwarding&&) = delete;
  ~SignalForwarding() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

/// This process's environment without the variables the launcher sets, and
/// rank `rank`'s values of them.
std::vector<std::string> rank_environment(int rank, int ranks, std::uint16_t port) {
  static const std::set<std::string> kOwn = {"RANK",
                                             "WORLD_SIZE",
                                             "LOCAL_RANK",
                                             "LOCAL_WORLD_SIZE",
                                             "GROUP_RANK",
                                             "ROLE_RANK",
                                             "MASTER_ADDR",
                                             "MASTER_PORT",
                                             "TORCHELASTIC_USE_AGENT_STORE",
                                             "TORCHELASTIC_RESTART_COUNT"};
  std::vector<std::string> out;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text(*entry);
    if (kOwn.count(text.substr(0, text.find('='))) == 0) out.push_back(text);
  }
  const std::string r = std::to_string(rank);
  const std::string n = std::to_string(ranks);
  for (const std::string& item :
       {"RANK=" + r, "WORLD_SIZE=" + n, "LOCAL_RANK=" + r, "LOCAL_WORLD_SIZE=" + n,
        std::string("GROUP_RANK=0"), "ROLE_RANK=" + r, std::string("MASTER_ADDR=127.0.0.1"),
        "MASTER_PORT=" + std::to_string(port), std::string("TORCHELASTIC_USE_AGENT_STORE=True"),
        std::string("TORCHELASTIC_RESTART_COUNT=0")}) {
    out.push_back(item);
  }
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& text : strings) out.push_back(text.data());
  out.push_back(nullptr);
  return out;
}

/// Starts one rank in a process group of its own, SIGINT and SIGTERM at
/// their defaults and unblocked.
pid_t spawn_rank(const LocalLaunch& launch, std::vector<std::string> environment) {
  std::vector<std::string> arguments = launch.arguments;
  std::vector<char*> argv = pointers(arguments);
  std::vector<char*> envp = pointers(environment);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int error =
      posix_spawn(&pid, launch.program.c_str(), nullptr, &attributes, argv.data(), envp.data());
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    throw std::runtime_error("cannot start " + launch.program + ": " + std::strerror(error));
  }
  return pid;
}

/// "exited with status 1", "was killed by signal 9 (Killed)".
std::string status_text(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return "was killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  }
  return "ended with wait status " + std::to_string(status);
}

/// 130: the rank stopped on SIGINT/SIGTERM after checkpointing (every rank
/// stops after the same step): not a failure.
bool succeeded(int status) {
  return WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 130);
}

struct Rank {
  pid_t pid = 0;
  std::optional<int> status;
  bool stopped_by_launcher = false;
};

}  // namespace

int launch_local_ranks(const LocalLaunch& launch, std::ostream& err) {
  using Clock = std::chrono::steady_clock;
  const auto store = host_store("127.0.0.1", launch.ranks, launch.timeout);
  const std::uint16_t port = store_port(store);
  // The ranks' own keys live under the agent prefix and "spdec"
  // (runtime/distributed/rank_group.cpp); failures go where they read them.
  const auto ledger_store = c10::make_intrusive<c10d::PrefixStore>(
      "spdec", c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_0", store));
  const SignalForwarding forwarding;
  std::vector<Rank> ranks(static_cast<std::size_t>(launch.ranks));
  for (int r = 0; r < launch.ranks; ++r) {
    ranks[static_cast<std::size_t>(r)].pid =
        spawn_rank(launch, rank_environment(r, launch.ranks, port));
  }
  std::optional<Clock::time_point> terminate_at;
  std::optional<Clock::time_point> kill_at;
  std::optional<int> first_failure;
  std::size_t running = ranks.size();
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (std::size_t r = 0; r < ranks.size(); ++r) {
        if (ranks[r].pid != pid || ranks[r].status) continue;
        ranks[r].status = status;
        --running;
        if (succeeded(status) || ranks[r].stopped_by_launcher) break;
        // The first failure, and any death by a signal, is a cause; a rank
        // that exits 1 after another failed only reports it.
        if (!first_failure || WIFSIGNALED(status)) {
          PeerLedger::record_failure(
              ledger_store, static_cast<int>(r),
              "its process (pid " + std::to_string(pid) + ") " + status_text(status), false);
        }
        if (!first_failure) {
          first_failure = static_cast<int>(r);
          terminate_at = Clock::now() + launch.timeout + std::chrono::seconds(10);
        }
        break;
      }
      continue;
    }
    if (const int signal = g_pending_signal.exchange(0); signal != 0) {
      for (const Rank& rank : ranks) {
        if (!rank.status) ::kill(rank.pid, signal);
      }
    }
    const auto now = Clock::now();
    if (terminate_at && now > *terminate_at && !kill_at) {
      for (Rank& rank : ranks) {
        if (rank.status) continue;
        rank.stopped_by_launcher = true;
        ::kill(rank.pid, SIGTERM);
      }
      kill_at = now + std::chrono::seconds(5);
    }
    if (kill_at && now > *kill_at) {
      for (const Rank& rank : ranks) {
        if (!rank.status) ::kill(rank.pid, SIGKILL);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int code = 0;
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    const Rank& rank = ranks[r];
    if (rank.stopped_by_launcher) {
      err << "spdec run " << launch.job << ": rank " << r << " (pid " << rank.pid
          << ") was stopped by the launcher after rank " << *first_failure << " failed\n";
      code = 1;
    } else if (!succeeded(*rank.status)) {
      err << "spdec run " << launch.job << ": rank " << r << " (pid " << rank.pid << ") "
          << status_text(*rank.status) << "\n";
      code = 1;
    } else if (code == 0 && WEXITSTATUS(*rank.status) == 130) {
      code = 130;
    }
  }
  return code;
}

}  // namespace spdec::runtime
