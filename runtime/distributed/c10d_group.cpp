#include "runtime/distributed/c10d_group.hpp"

#include <cstdlib>
#include <stdexcept>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#ifdef SPDEC_WITH_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef SPDEC_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace spdec::runtime {
namespace {

#ifdef SPDEC_WITH_GLOO
bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

/// Gloo's device as torch.distributed picks it: GLOO_SOCKET_IFNAME's
/// interface when set; loopback when every rank is on this machine (the
/// store is at a loopback address); else this host's address.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once, while joining
  const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
  if (interface != nullptr && *interface != '\0') {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (is_loopback(master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

}  // namespace

bool has_gloo() {
#ifdef SPDEC_WITH_GLOO
  return true;
#else
  return false;
#endif
}

c10::intrusive_ptr<c10d::Store> connect_store(const LaunchEnv& env,
                                              std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = env.master_port;
  options.isServer = !env.agent_store && env.rank == 0;
  options.numWorkers = static_cast<std::size_t>(env.world_size);
  options.waitWorkers = false;  // the process group waits for every rank itself
  options.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
  } catch (const std::exception& e) {
    throw std::runtime_error(
        std::string(options.isServer ? "cannot host" : "cannot reach") +
        " the rendezvous store at MASTER_ADDR:MASTER_PORT = " + env.master_addr + ":" +
        std::to_string(env.master_port) +
        (options.isServer ? " (is the port in use?)" : " (is rank 0, or the launcher, running?)") +
        ": " + std::string(e.what()).substr(0, std::string(e.what()).find('\n')));
  }
  if (env.agent_store) store = c10::make_intrusive<c10d::PrefixStore>(env.store_prefix, store);
  return store;
}

c10::intrusive_ptr<c10d::Store> host_store(const std::string& host, int ranks,
                                           std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = 0;  // a free port, which the ranks learn through MASTER_PORT
  options.isServer = true;
  options.numWorkers = static_cast<std::size_t>(ranks);
  options.waitWorkers = false;
  options.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(host, options);
}

std::uint16_t store_port(const c10::intrusive_ptr<c10d::Store>& store) {
  const auto* tcp = dynamic_cast<const c10d::TCPStore*>(store.get());
  if (tcp == nullptr) throw std::logic_error("store_port: not a TCPStore");
  return tcp->getPort();
}

std::string choose_backend(const GroupOptions& options) {
  using config::DistributedBackend;
#ifdef SPDEC_WITH_NCCL
  constexpr bool kHaveNccl = true;
#else
  constexpr bool kHaveNccl = false;
#endif
  switch (options.backend) {
    case DistributedBackend::gloo:
      if (!has_gloo()) break;
      return "gloo";
    case DistributedBackend::nccl:
      if (!kHaveNccl) {
        throw std::runtime_error(
            "train.distributed.backend = \"nccl\": this spdec was built without c10d's NCCL "
            "process group (CMake found no ProcessGroupNCCL.hpp and nccl.h); use \"gloo\" or "
            "\"auto\"");
      }
      if (!options.cuda) {
        throw std::runtime_error(
            "train.distributed.backend = \"nccl\" needs the job on CUDA (run.device); NCCL does "
            "not reduce CPU tensors: use \"gloo\" or \"auto\"");
      }
      return "nccl";
    case DistributedBackend::automatic:
      if (kHaveNccl && options.cuda) return "nccl";
      if (!has_gloo()) break;
      return "gloo";
  }
  throw std::runtime_error(
      "this spdec was built without c10d's Gloo process group (its header needs Gloo's headers: "
      "apt-get install libgloo-dev and rebuild), so it runs on one process only");
}

c10::intrusive_ptr<C10dGroup> make_group(const std::string& backend,
                                         const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                         int size, std::chrono::milliseconds timeout,
                                         const std::string& master_addr) {
#ifdef SPDEC_WITH_NCCL
  if (backend == "nccl") {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    // NCCL's own watchdog aborts a stuck collective; give it a margin over
    // ours, so that RankGroup names the rank first.
    options->timeout = timeout + std::chrono::seconds(30);
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
  }
#endif
#ifdef SPDEC_WITH_GLOO
  if (backend == "gloo") {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(gloo_device(master_addr));
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
  }
#endif
  (void)store;
  (void)rank;
  (void)size;
  (void)timeout;
  (void)master_addr;
  throw std::logic_error("make_group: backend \"" + backend + "\" is not in this build");
}

}  // namespace spdec::runtime
