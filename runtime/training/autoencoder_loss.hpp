// The autoencoder's training loss (runtime/nn/autoencoder.hpp), latent
// diffusion's KL-regularised objective (Rombach et al. 2022,
// arXiv:2112.10752, Sec. 3 and Appendix G) with a multi-scale L1
// reconstruction term where the paper has L1 + LPIPS + a patch GAN:
//
//   L = E_batch[ R(x, D(z)) + kl_weight · KL(q(z|x) ‖ N(0, I)) ],  z ~ q(z|x)
//   R = Σ_{s < scales} 4^s Σ_pixels |pool_s(x) − pool_s(x̂)|
//
// pool_s the 2^s × 2^s average pooling. Each scale is summed over its
// pixels and weighted 4^s, as if over the full-resolution pixels it pools,
// so the coarse scales (the images' shapes) count as much as the finest
// (their edges); summing over pixels, not averaging, keeps kl_weight on the
// paper's footing (its 1e-6 weighs a KL summed over the latent against a
// reconstruction error summed over the image).
#pragma once

#include <ATen/ATen.h>

#include "runtime/nn/autoencoder.hpp"

namespace spdec::runtime {

/// R(x, y) per image, averaged over the batch; scales beyond the images'
/// side (a pooled side below 1) are left out.
[[nodiscard]] at::Tensor multiscale_l1(const at::Tensor& x, const at::Tensor& y,
                                       std::int64_t scales);

/// KL(N(mean, exp(log_variance)) ‖ N(0, I)) summed over each code, averaged over the batch.
[[nodiscard]] at::Tensor kl_to_standard_normal(const LatentPosterior& posterior);

struct AutoencoderLoss {
  at::Tensor total;  ///< differentiable
  double reconstruction = 0.0;
  double kl = 0.0;
};

/// The loss of `net` on images x in [−1, 1], z drawn from q(z|x) with the
/// global generator (the reparameterisation: mean + σ·ε).
[[nodiscard]] AutoencoderLoss autoencoder_loss(Autoencoder& net, const at::Tensor& x,
                                               double kl_weight, std::int64_t scales);

}  // namespace spdec::runtime
