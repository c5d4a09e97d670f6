// The c10d pieces behind RankGroup (runtime/distributed/rank_group.hpp): the
// rendezvous TCPStore and the Gloo or NCCL process group, across the LibTorch
// versions spdec builds with. In LibTorch 1.x a process group
// (ProcessGroupGloo, ProcessGroupNCCL) derives from c10d::ProcessGroup; from
// 2.0 on from c10d::Backend, with the same collectives. Gloo's group needs
// Gloo's headers (Debian: libgloo-dev) and USE_C10D_GLOO, which LibTorch's
// CMake files do not set: CMake defines SPDEC_WITH_GLOO (and
// SPDEC_WITH_NCCL) when it finds them, and a build without them refuses a job
// on several ranks, saying why.
#pragma once

#include <torch/version.h>

#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

#include <chrono>
#include <string>

#include "runtime/distributed/launch_env.hpp"
#include "runtime/distributed/rank_group.hpp"

namespace spdec::runtime {

#if TORCH_VERSION_MAJOR >= 2
using C10dGroup = c10d::Backend;
#else
using C10dGroup = c10d::ProcessGroup;
#endif

/// The rendezvous store of `env`: a TCPStore client of MASTER_ADDR:MASTER_PORT
/// (its server on rank 0 unless the launcher hosts it), under the agent's
/// key prefix where there is one. Throws std::runtime_error naming the
/// address when it cannot be reached (or, on rank 0, bound).
[[nodiscard]] c10::intrusive_ptr<c10d::Store> connect_store(const LaunchEnv& env,
                                                            std::chrono::milliseconds timeout);

/// A TCPStore server on `host` at a free port (the --nproc launcher's);
/// its port is store_port(store).
[[nodiscard]] c10::intrusive_ptr<c10d::Store> host_store(const std::string& host, int ranks,
                                                         std::chrono::milliseconds timeout);
[[nodiscard]] std::uint16_t store_port(const c10::intrusive_ptr<c10d::Store>& store);

/// "gloo" or "nccl" for `options` (auto: NCCL for CUDA tensors where this
/// build has it); throws std::runtime_error when the one asked for is not
/// in this build or does not fit the device.
[[nodiscard]] std::string choose_backend(const GroupOptions& options);

/// The process group of `backend` over `store` (it waits for every rank, up
/// to `timeout`). `master_addr` picks Gloo's network device: loopback for a
/// job on one machine, GLOO_SOCKET_IFNAME or this host's address otherwise.
[[nodiscard]] c10::intrusive_ptr<C10dGroup> make_group(const std::string& backend,
                                                       const c10::intrusive_ptr<c10d::Store>& store,
                                                       int rank, int size,
                                                       std::chrono::milliseconds timeout,
                                                       const std::string& master_addr);

/// Whether this build has Gloo's process group at all.
[[nodiscard]] bool has_gloo();

}  // namespace spdec::runtime
