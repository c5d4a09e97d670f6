// Conditional flow matching on the optimal-transport path (Lipman et al.
// 2023, σ_min = 0): x_t = (1 − t) x₀ + t z, z ~ N(0, I), t ~ U[0, 1]; the
// network regresses the path's velocity z − x₀. The spde process only fixes
// the image shape: this is the baseline the paper compares with, trained by
// the same network, loop and budget. Its sampler is runtime/sampling/flow_sampler.hpp.
#include <ATen/CPUGeneratorImpl.h>

#include <vector>

#include "runtime/base/splitmix.hpp"
#include "runtime/training/objective_kinds.hpp"

namespace spdec::runtime {
namespace {

class FlowMatching final : public Objective {
 public:
  [[nodiscard]] ObjectiveKind kind() const override { return ObjectiveKind::flow_matching; }
  [[nodiscard]] double min_time() const override { return 0.0; }
  [[nodiscard]] double max_time() const override { return 1.0; }

  at::Tensor loss(const Network& network, const TrainingDraw& draw) override {
    const at::Device device = draw.x0.device();
    const at::Tensor t = time_tensor(draw.times, device);
    const at::Tensor z = white_gaussian(draw);
    const at::Tensor s = t.view({-1, 1, 1, 1});
    const at::Tensor xt = (1 - s) * draw.x0 + s * z;
    const at::Tensor velocity = network(xt.detach(), t);
    return (velocity - (z - draw.x0)).square().mean();
  }

 private:
  /// z from a CPU generator keyed by (seed, step): the same after a resume;
  /// drawn for the whole global batch, this rank's rows kept.
  static at::Tensor white_gaussian(const TrainingDraw& draw) {
    const at::Tensor& like = draw.x0;
    std::vector<std::int64_t> shape = like.sizes().vec();
    shape[0] = draw.batch_rows();
    at::Generator generator = at::detail::createCPUGenerator(mix(draw.seed, draw.step, 0xf10eULL));
    const at::Tensor whole =
        at::randn(shape, generator, at::TensorOptions().dtype(like.scalar_type()));
    return rows_of_draw(whole, draw).to(like.device());
  }
};

}  // namespace

std::unique_ptr<Objective> make_flow_matching_objective() {
  return std::make_unique<FlowMatching>();
}

}  // namespace spdec::runtime
