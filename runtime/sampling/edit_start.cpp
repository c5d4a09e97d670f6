#include "runtime/sampling/edit_start.hpp"

#include <ATen/core/grad_mode.h>
#include <fmt/format.h>

#include <stdexcept>
#include <vector>

namespace spdec::runtime {
namespace {

/// Keeps the edit's forward noise apart from the sampler's own streams.
constexpr std::uint64_t kEditNoise = 0xed17ULL;

/// inputs[id mod N] for every id, on `device`.
at::Tensor chosen_inputs(const at::Tensor& inputs, const at::Tensor& sample_ids,
                         const at::Device& device) {
  if (inputs.dim() != 4 || inputs.size(0) < 1) {
    throw std::invalid_argument("edit: needs input images [N, C, H, W], N >= 1");
  }
  const at::Tensor index = sample_ids.to(inputs.device(), at::kLong).remainder(inputs.size(0));
  return inputs.index_select(0, index).to(device, at::kFloat);
}

}  // namespace

at::Tensor edit_start(ProcessModel& model, const at::Tensor& inputs, double s, std::uint64_t seed,
                      const at::Tensor& sample_ids, const at::Device& device) {
  if (!(s > model.start_time() && s <= model.end_time())) {
    throw std::invalid_argument(
        fmt::format("edit: the start time {} is outside the process's time range ({}, {}]", s,
                    model.start_time(), model.end_time()));
  }
  const at::NoGradGuard no_grad;
  const at::Tensor x = chosen_inputs(inputs, sample_ids, device);
  NoiseSource noise;
  noise.seed = seed ^ kEditNoise;
  noise.sample_ids = sample_ids.to(device, at::kLong);
  const std::vector<double> times(static_cast<std::size_t>(x.size(0)), s);
  return model.perturb(x, times, noise).xt.to(at::kFloat).contiguous();
}

at::Tensor flow_edit_start(const at::Tensor& inputs, const at::Tensor& sample_ids, double s,
                           const at::Tensor& z) {
  if (!(s > 0.0 && s <= 1.0)) {
    throw std::invalid_argument(fmt::format("edit: the flow's start time {} is not in (0, 1]", s));
  }
  const at::Tensor x = chosen_inputs(inputs, sample_ids, z.device());
  return ((1.0 - s) * x + s * z).to(at::kFloat).contiguous();
}

}  // namespace spdec::runtime
