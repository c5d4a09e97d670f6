#include "runtime/sampling/generate_on_ranks.hpp"

#include <cstdint>
#include <utility>
#include <vector>

#include "runtime/base/shard.hpp"

namespace spdec::runtime {

at::Tensor generate_on_ranks(RankGroup& ranks, ProcessModel& model, UNet net,
                             const NetworkHead& head, const std::optional<GaussianPrior>& prior,
                             GenerateRequest request, const std::string& what) {
  if (ranks.size() == 1) return generate(model, std::move(net), head, prior, request);
  std::vector<std::int64_t> counts;
  for (int r = 0; r < ranks.size(); ++r) {
    counts.push_back(batch_shard_of(request.n, request.batch_size, r, ranks.size()).size());
  }
  const Shard shard = batch_shard_of(request.n, request.batch_size, ranks.rank(), ranks.size());
  at::Tensor mine;
  if (shard.size() > 0) {
    request.first += shard.begin;
    request.n = shard.size();
    mine = generate(model, net, head, prior, request);
  } else {
    // Fewer batches than ranks: this one only takes part in the gather.
    mine = at::empty({0, net->options().in_channels, model.height(), model.width()},
                     at::TensorOptions().dtype(at::kFloat));
  }
  return ranks.gather_rows(mine, counts, what);
}

}  // namespace spdec::runtime
