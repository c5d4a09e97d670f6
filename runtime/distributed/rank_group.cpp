#include "runtime/distributed/rank_group.hpp"

#include <torch/cuda.h>

#include <algorithm>
#include <cstring>
#include <thread>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <utility>

#include "runtime/distributed/c10d_group.hpp"
#include "runtime/distributed/peer_ledger.hpp"

namespace spdec::runtime {
namespace {

/// How long a failed collective waits for a dying peer's report to reach the
/// store: its report and its closed connections race.
constexpr double kSettleSeconds = 3.0;

std::string seconds_text(std::chrono::milliseconds timeout) {
  const double seconds = static_cast<double>(timeout.count()) / 1000.0;
  std::string text = std::to_string(seconds);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text + " s";
}

}  // namespace

class RankGroup::Impl {
 public:
  Impl(c10::intrusive_ptr<c10d::Store> store, int rank, int size)
      : ledger(store, rank, size), store_(std::move(store)) {}

  PeerLedger ledger;
  c10::intrusive_ptr<C10dGroup> group;
  std::uint64_t seq = 0;  ///< collectives entered
  bool poll = false;      ///< NCCL: wait by polling, to a deadline of our own

 private:
  c10::intrusive_ptr<c10d::Store> store_;  ///< kept alive with the ledger's
};

at::Device local_cuda_device(int local_rank) {
  const auto count = static_cast<int>(torch::cuda::device_count());
  return {at::kCUDA, static_cast<c10::DeviceIndex>(count > 0 ? local_rank % count : 0)};
}

RankGroup::RankGroup() = default;
RankGroup::RankGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RankGroup::~RankGroup() = default;

std::unique_ptr<RankGroup> RankGroup::join(const LaunchEnv& env, const GroupOptions& options) {
  const std::string backend = choose_backend(options);
  const std::string place =
      "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size);
  const c10::intrusive_ptr<c10d::Store> store = connect_store(env, options.timeout);
  auto impl = std::make_unique<Impl>(c10::make_intrusive<c10d::PrefixStore>("spdec", store),
                                     env.rank, env.world_size);
  impl->ledger.joined();
  const std::string absent = impl->ledger.wait_for_all(
      static_cast<double>(options.timeout.count()) / 1000.0, seconds_text(options.timeout));
  if (!absent.empty()) throw RankFailure(place + ": the job did not start: " + absent);
  try {
    impl->group = make_group(backend, c10::make_intrusive<c10d::PrefixStore>("group", store),
                             env.rank, env.world_size, options.timeout, env.master_addr);
  } catch (const std::exception& e) {
    std::string missing;
    for (const int r : impl->ledger.not_joined()) {
      missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    }
    throw RankFailure(place + ": the job's ranks did not all join" +
                      (missing.empty() ? std::string(": ") + e.what()
                                       : " within " + seconds_text(options.timeout) +
                                             " (train.distributed.timeout): rank(s) " + missing +
                                             " never arrived at " + env.master_addr + ":" +
                                             std::to_string(env.master_port)));
  }
  impl->poll = backend == "nccl";
  std::unique_ptr<RankGroup> group(new RankGroup(std::move(impl)));
  group->rank_ = env.rank;
  group->size_ = env.world_size;
  group->local_rank_ = env.local_rank;
  group->local_size_ = env.local_world_size;
  group->backend_ = backend;
  group->timeout_ = options.timeout;
  group->device_ = backend == "nccl" ? local_cuda_device(env.local_rank) : at::Device(at::kCPU);
  return group;
}

std::string RankGroup::describe() const {
  return "rank " + std::to_string(rank_) + " of " + std::to_string(size_);
}

template <typename Start>
void RankGroup::collective(const std::string& what, const Start& start) {
  const std::uint64_t seq = ++impl_->seq;
  try {
    impl_->ledger.entering(seq, what);
    const std::vector<c10::intrusive_ptr<c10d::Work>> works = start(*impl_->group);
    if (!impl_->poll) {
      for (const auto& work : works) work->wait();
      return;
    }
    // NCCL's wait() returns once the collective is queued on the GPU: poll
    // for its completion, to a deadline of our own.
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (const auto& work : works) {
      while (!work->isCompleted()) {
        if (std::chrono::steady_clock::now() > deadline) {
          throw std::runtime_error("timed out after " + seconds_text(timeout_));
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      work->wait();
    }
  } catch (const std::exception& e) {
    throw RankFailure(
        describe() + ": stopped at " + what + ": " +
        impl_->ledger.blame(seq, what, e.what(), kSettleSeconds, seconds_text(timeout_)));
  }
}

void RankGroup::all_reduce_sum(std::vector<at::Tensor>& tensors, const std::string& what) {
  if (size_ == 1 || tensors.empty()) return;
  collective(what, [&tensors](C10dGroup& group) {
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (at::Tensor& tensor : tensors) {
      std::vector<at::Tensor> one{tensor};
      works.push_back(group.allreduce(one, c10d::AllreduceOptions{}));
    }
    return works;
  });
}

void RankGroup::broadcast(std::vector<at::Tensor>& tensors, const std::string& what) {
  if (size_ == 1 || tensors.empty()) return;
  collective(what, [&tensors](C10dGroup& group) {
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (at::Tensor& tensor : tensors) {
      std::vector<at::Tensor> one{tensor};
      works.push_back(group.broadcast(one, c10d::BroadcastOptions{}));
    }
    return works;
  });
}

std::string RankGroup::broadcast_bytes(const std::string& bytes, const std::string& what) {
  if (size_ == 1) return bytes;
  const at::TensorOptions on_device = at::TensorOptions().device(device_);
  std::vector<at::Tensor> length{at::full(
      {1}, is_root() ? static_cast<std::int64_t>(bytes.size()) : 0, on_device.dtype(at::kLong))};
  broadcast(length, what);
  const std::int64_t n = length[0].to(at::kCPU).item<std::int64_t>();
  std::vector<at::Tensor> data{at::empty({n}, on_device.dtype(at::kByte))};
  if (is_root() && n > 0) {
    at::Tensor host = at::empty({n}, at::TensorOptions().dtype(at::kByte));
    std::memcpy(host.data_ptr(), bytes.data(), bytes.size());
    data[0].copy_(host);
  }
  broadcast(data, what);
  const at::Tensor host = data[0].to(at::kCPU).contiguous();
  return {reinterpret_cast<const char*>(host.data_ptr()), static_cast<std::size_t>(n)};
}

bool RankGroup::broadcast_flag(bool flag, const std::string& what) {
  if (size_ == 1) return flag;
  std::vector<at::Tensor> value{
      at::full({1}, flag ? 1 : 0, at::TensorOptions().device(device_).dtype(at::kInt))};
  broadcast(value, what);
  return value[0].to(at::kCPU).item<int>() != 0;
}

at::Tensor RankGroup::gather_rows(const at::Tensor& rows, const std::vector<std::int64_t>& counts,
                                  const std::string& what) {
  if (size_ == 1) return rows.to(at::kCPU, at::kFloat);
  if (static_cast<int>(counts.size()) != size_ ||
      rows.size(0) != counts[static_cast<std::size_t>(rank_)]) {
    throw std::invalid_argument("gather_rows: the row counts do not fit the ranks");
  }
  // Gloo gathers tensors of one shape: every rank's rows are padded to the most.
  const std::int64_t widest = *std::max_element(counts.begin(), counts.end());
  std::vector<std::int64_t> shape = rows.sizes().vec();
  shape[0] = widest;
  const at::TensorOptions options = at::TensorOptions().device(device_).dtype(at::kFloat);
  std::vector<at::Tensor> input{at::zeros(shape, options)};
  input[0].narrow(0, 0, rows.size(0)).copy_(rows);
  std::vector<std::vector<at::Tensor>> output;
  if (is_root()) {
    output.emplace_back();
    for (int r = 0; r < size_; ++r) output.back().push_back(at::empty(shape, options));
  }
  collective(what, [&input, &output](C10dGroup& group) {
    return std::vector<c10::intrusive_ptr<c10d::Work>>{
        group.gather(output, input, c10d::GatherOptions{})};
  });
  if (!is_root()) return {};
  std::vector<at::Tensor> parts;
  for (int r = 0; r < size_; ++r) {
    const auto index = static_cast<std::size_t>(r);
    parts.push_back(output[0][index].narrow(0, 0, counts[index]));
  }
  return at::cat(parts, 0).to(at::kCPU);
}

void RankGroup::report_failure(const std::string& message) noexcept {
  if (impl_) impl_->ledger.failed(message);
}

}  // namespace spdec::runtime
