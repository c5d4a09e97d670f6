#include "runtime/distributed/peer_ledger.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

namespace spdec::runtime {
namespace {

std::vector<std::uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string host_name() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return "?";
  return name.data();
}

/// The state of process `pid` of this machine, as /proc/<pid>/stat gives it
/// ('R' running, 'S' sleeping, 'T' stopped, 'Z' a zombie its parent has not
/// reaped, ...); 'X' when it is gone.
char process_state(long pid) {
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return 'X';
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');  // the state follows the command's closing parenthesis
  if (close == std::string::npos || close + 2 >= line.size()) return '?';
  return line[close + 2];
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : "; ") + part;
  return out;
}

}  // namespace

PeerLedger::PeerLedger(c10::intrusive_ptr<c10d::Store> store, int rank, int size)
    : store_(std::move(store)), rank_(rank), size_(size) {}

void PeerLedger::joined() {
  store_->set("pid/" + std::to_string(rank_),
              bytes_of(host_name() + " " + std::to_string(::getpid())));
}

void PeerLedger::entering(std::uint64_t seq, const std::string& what) {
  store_->set("at/" + std::to_string(rank_), bytes_of(std::to_string(seq) + " " + what));
}

void PeerLedger::failed(const std::string& message) noexcept {
  record_failure(store_, rank_, message, true);
}

void PeerLedger::record_failure(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                const std::string& message, bool overwrite) noexcept {
  try {
    const std::string key = "failed/" + std::to_string(rank);
    if (!overwrite && store->check({key})) return;
    store->set(key, bytes_of(message));
    // A set is not acknowledged: a rank that reports and then leaves could
    // close its connection before the store has read the message (and a
    // reset connection may drop it). A check is a round trip on the same
    // connection, answered after the set: when it returns, the record is in.
    (void)store->check({key});
  } catch (...) {  // NOLINT(bugprone-empty-catch): the store may be gone with its host
  }
}

std::string PeerLedger::read(const std::string& key) const {
  if (!store_->check({key})) return {};
  const std::vector<std::uint8_t> value = store_->get(key);
  return {value.begin(), value.end()};
}

std::string PeerLedger::failures() const {
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    const std::string message = read("failed/" + std::to_string(r));
    if (!message.empty()) out.push_back("rank " + std::to_string(r) + " failed: " + message);
  }
  return join(out);
}

std::string PeerLedger::gone() const {
  const std::string here = host_name();
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    std::istringstream where(read("pid/" + std::to_string(r)));
    std::string host;
    long pid = 0;
    if (!(where >> host >> pid) || host != here) continue;
    const char state = process_state(pid);
    const std::string who = "rank " + std::to_string(r) + " (pid " + std::to_string(pid) + ")";
    if (state == 'X' || state == 'Z') out.push_back(who + " is gone: it exited or was killed");
    if (state == 'T' || state == 't') out.push_back(who + " is stopped (SIGSTOP, or a debugger)");
  }
  return join(out);
}

std::string PeerLedger::behind(std::uint64_t seq, const std::string& what,
                               const std::string& timeout) const {
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    const std::string at = read("at/" + std::to_string(r));
    std::istringstream fields(at);
    std::uint64_t their = 0;
    if (!(fields >> their)) {
      out.push_back("rank " + std::to_string(r) + " did not reach " + what + " within " + timeout +
                    " (train.distributed.timeout), nor any collective before it");
      continue;
    }
    if (their >= seq) continue;
    std::string last;
    std::getline(fields >> std::ws, last);
    out.push_back("rank " + std::to_string(r) + " did not reach " + what + " within " + timeout +
                  " (train.distributed.timeout; it last entered " + last + ")");
  }
  return join(out);
}

std::string PeerLedger::blame(std::uint64_t seq, const std::string& what, const std::string& error,
                              double settle_seconds, const std::string& timeout) const {
  try {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration<double>(std::max(settle_seconds, 0.0));
    for (;;) {
      std::string reported = failures();
      if (!reported.empty()) return reported;
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (std::string dead = gone(); !dead.empty()) return dead;
    if (std::string late = behind(seq, what, timeout); !late.empty()) return late;
    return what +
           " failed, though every rank reached it (the network between them, or a "
           "rank's machine, may be stuck): " +
           first_line(error);
  } catch (const std::exception& e) {
    return "the rendezvous store is unreachable too (" + first_line(e.what()) +
           "): the process that hosted it (rank 0, or the launcher) is gone; " + what +
           " failed: " + first_line(error);
  }
}

std::vector<int> PeerLedger::not_joined() const {
  std::vector<int> out;
  for (int r = 0; r < size_; ++r) {
    try {
      if (!store_->check({"pid/" + std::to_string(r)})) out.push_back(r);
    } catch (...) {
      out.push_back(r);
    }
  }
  return out;
}

std::string PeerLedger::wait_for_all(double timeout_seconds, const std::string& timeout) const {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration<double>(std::max(timeout_seconds, 0.0));
  for (;;) {
    const std::vector<int> missing = not_joined();
    if (missing.empty()) return {};
    if (std::string reported = failures(); !reported.empty()) return reported;
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string ranks;
      for (const int r : missing) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
      return "rank(s) " + ranks + " did not join within " + timeout +
             " (train.distributed.timeout)";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace spdec::runtime
