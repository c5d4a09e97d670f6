#include "runtime/training/autoencoder_loss.hpp"

#include <vector>

namespace spdec::runtime {

at::Tensor multiscale_l1(const at::Tensor& x, const at::Tensor& y, std::int64_t scales) {
  at::Tensor total = at::zeros({}, x.options());
  at::Tensor a = x;
  at::Tensor b = y;
  double weight = 1.0;
  for (std::int64_t s = 0; s < scales; ++s) {
    if (s > 0) {
      if (a.size(2) < 2 || a.size(3) < 2) break;
      const std::vector<std::int64_t> kernel{2, 2};
      a = at::avg_pool2d(a, kernel);
      b = at::avg_pool2d(b, kernel);
      weight *= 4.0;
    }
    total = total + weight * (a - b).abs().flatten(1).sum(1).mean();
  }
  return total;
}

at::Tensor kl_to_standard_normal(const LatentPosterior& posterior) {
  const at::Tensor& mean = posterior.mean;
  const at::Tensor& log_variance = posterior.log_variance;
  return (0.5 * (mean.square() + log_variance.exp() - 1.0 - log_variance)).flatten(1).sum(1).mean();
}

AutoencoderLoss autoencoder_loss(Autoencoder& net, const at::Tensor& x, double kl_weight,
                                 std::int64_t scales) {
  const LatentPosterior q = net->encode(x);
  const at::Tensor z = q.mean + (0.5 * q.log_variance).exp() * at::randn_like(q.mean);
  const at::Tensor reconstruction = multiscale_l1(x, net->decode(z), scales);
  const at::Tensor kl = kl_to_standard_normal(q);
  AutoencoderLoss loss;
  loss.total = reconstruction + kl_weight * kl;
  loss.reconstruction = reconstruction.item<double>();
  loss.kl = kl.item<double>();
  return loss;
}

}  // namespace spdec::runtime
