#include "runtime/sampling/data_prior.hpp"

#include <ATen/core/grad_mode.h>
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "runtime/base/splitmix.hpp"

namespace spdec::runtime {
namespace {

/// Salts that keep the prior's draws apart from training's and from each
/// other (the image choice, and the two noise streams of the share).
constexpr std::uint64_t kImageChoice = 0x5e1ec7ULL;
constexpr std::uint64_t kPriorNoise = 0x9a1a7ULL;
constexpr std::uint64_t kSecondDraw = 0x2d4a3ULL;

at::Tensor push_to_end(ProcessModel& model, const at::Tensor& x0, std::uint64_t seed,
                       const at::Tensor& sample_ids) {
  NoiseSource noise;
  noise.seed = seed;
  noise.sample_ids = sample_ids;
  const std::vector<double> times(static_cast<std::size_t>(x0.size(0)), model.end_time());
  return model.perturb(x0, times, noise).xt;
}

}  // namespace

at::Tensor simulate_prior(ProcessModel& model, const at::Tensor& images, std::uint64_t seed,
                          const at::Tensor& sample_ids, const at::Device& device) {
  if (images.dim() != 4 || images.size(0) < 1) {
    throw std::invalid_argument("simulate_prior: needs images [N, C, H, W], N >= 1");
  }
  const at::NoGradGuard no_grad;
  const at::Tensor ids = sample_ids.to(at::kCPU, at::kLong).contiguous();
  const auto* id = ids.data_ptr<std::int64_t>();
  const auto count = static_cast<std::uint64_t>(images.size(0));
  std::vector<std::int64_t> chosen(static_cast<std::size_t>(ids.numel()));
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    chosen[i] = static_cast<std::int64_t>(
        mix(seed, static_cast<std::uint64_t>(id[i]), kImageChoice) % count);
  }
  const at::Tensor index =
      at::tensor(chosen, at::TensorOptions().dtype(at::kLong)).to(images.device());
  const at::Tensor x0 = images.index_select(0, index).to(device, at::kFloat);
  return push_to_end(model, x0, seed ^ kPriorNoise, ids.to(device)).to(at::kFloat).contiguous();
}

double data_share_at_end(ProcessModel& model, const at::Tensor& images, std::uint64_t seed) {
  if (images.dim() != 4 || images.size(0) < 2) {
    throw std::invalid_argument("data_share_at_end: needs images [N, C, H, W], N >= 2");
  }
  const at::NoGradGuard no_grad;
  const at::Tensor x0 = images.to(at::kFloat);
  const at::Tensor ids =
      at::arange(x0.size(0), at::TensorOptions().dtype(at::kLong).device(x0.device()));
  const at::Tensor first = push_to_end(model, x0, seed ^ kPriorNoise, ids).to(at::kDouble);
  const at::Tensor second =
      push_to_end(model, x0, seed ^ kPriorNoise ^ kSecondDraw, ids).to(at::kDouble);
  // Two independent draws of X_T | x₀ share x₀ and nothing else, so their
  // covariance across images is the spread x₀ leaves in X_T, whatever the
  // semantics (no closed form needed for the sde chain); it has less
  // sampling error than total minus noise variance (zero mean when nothing
  // survives, standard error ≈ 1/√(images·pixels) of the variance).
  const at::Tensor centred_first = first - first.mean(0, /*keepdim=*/true);
  const at::Tensor centred_second = second - second.mean(0, /*keepdim=*/true);
  const double shared = (centred_first * centred_second).mean().item<double>();
  const double total = 0.5 * (centred_first.square().mean().item<double>() +
                              centred_second.square().mean().item<double>());
  if (!(total > 0)) return 0.0;
  return std::clamp(shared / total, 0.0, 1.0);
}

PriorDecision decide_prior(config::SamplePrior choice, ProcessModel& model,
                           const at::Tensor& images, std::uint64_t seed) {
  using config::SamplePrior;
  if (choice == SamplePrior::fitted) {
    return {{}, "the checkpoint's Gaussian fit (sample.prior = \"fitted\")"};
  }
  const std::string drawn = fmt::format("{} training images pushed to T", images.size(0));
  if (choice == SamplePrior::simulate) return {images, drawn + " (sample.prior = \"simulate\")"};
  const double share = data_share_at_end(
      model, images.narrow(0, 0, std::min(kDataShareImages, images.size(0))), seed);
  if (share <= kDataPriorShare) {
    return {{},
            fmt::format("the checkpoint's Gaussian fit (x0 explains {:.2g} % of X_T's variance: "
                        "the process forgets it)",
                        100 * share)};
  }
  return {images, fmt::format("{} (x0 still explains {:.3g} % of X_T's variance, which a Gaussian "
                              "fit would scramble; sample.prior = \"fitted\" uses the "
                              "checkpoint's)",
                              drawn, 100 * share)};
}

}  // namespace spdec::runtime
