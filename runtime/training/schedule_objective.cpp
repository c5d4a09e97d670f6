#include "runtime/training/schedule_objective.hpp"

#include <torch/autograd.h>

namespace spdec::runtime {
namespace {

/// Σ over all but the batch dimension: per-sample inner products.
at::Tensor per_sample_sum(const at::Tensor& x) { return x.flatten(1).sum(1); }

}  // namespace

at::Tensor flow_of_denoised(const SpectralBasis& basis, const at::Tensor& xt,
                            const at::Tensor& denoised, const at::Tensor& variance) {
  return basis.multiply(denoised - xt, at::rsqrt(variance));
}

ScheduleTerms schedule_terms(const LearnableModes& modes, const LearnedSchedules& schedules,
                             const SpectralBasis& basis, const FlowFunction& flow,
                             const ScheduleDraw& draw, double offset) {
  const at::Tensor variance = mode_variances(modes, schedules, draw.times);
  const at::Tensor rate = mode_rates(modes, schedules, draw.times);
  const double rows = static_cast<double>(draw.x0.size(0));
  // x_t = x_0 + M^{1/2} ε, differentiable in θ: the network sees it.
  const at::Tensor x = draw.x0 + basis.multiply(draw.noise, at::sqrt(variance));
  const at::Tensor phi = flow(x, draw.times);
  const at::Tensor error = phi + draw.noise;  // φ − φ*, φ* = −ε
  const at::Tensor weight = rate / at::sqrt(variance * (variance + offset));
  ScheduleTerms out;
  out.loss = per_sample_sum(basis.multiply(error, weight).square()).sum() / rows;

  // b = ∂L/∂φ, held fixed: the estimated term is linear in ∂_θ φ.
  const at::Tensor b = (2.0 / rows) * basis.multiply(error, weight.square()).detach();
  const at::Tensor fixed_phi = phi.detach();
  const at::Tensor fixed_variance = variance.detach();
  const at::Tensor f_b = (b * phi).sum();
  const bool trace = !draw.probes.empty();
  const at::Tensor grad_f = torch::autograd::grad({f_b}, {x}, {}, /*retain_graph=*/true,
                                                  /*create_graph=*/trace)[0];
  // ∂M enters through M(θ) itself, every other factor detached.
  at::Tensor term =
      (grad_f.detach() * basis.multiply(fixed_phi, variance / at::sqrt(fixed_variance))).sum() +
      0.5 * (b * basis.multiply(fixed_phi, variance / fixed_variance)).sum();
  if (trace) {
    const double dimension = static_cast<double>(draw.x0[0].numel());
    const double scale = dimension / static_cast<double>(draw.probes.size());
    for (std::size_t p = 0; p < draw.probes.size(); ++p) {
      const at::Tensor& e = draw.probes[p];
      // The Hessian-vector product ∇²F_b e, one backward pass.
      const at::Tensor hessian_e =
          torch::autograd::grad({(grad_f * e).sum()}, {x}, {}, /*retain_graph=*/true)[0];
      term = term + 0.5 * scale * (hessian_e.detach() * basis.multiply(e, variance)).sum();
    }
  }
  out.surrogate = term - term.detach();
  return out;
}

std::vector<at::Tensor> sphere_probes(const at::Tensor& like, int count, std::uint64_t seed) {
  at::Generator generator = at::detail::createCPUGenerator(seed);
  std::vector<at::Tensor> out;
  for (int p = 0; p < count; ++p) {
    const at::Tensor z =
        at::randn(like.sizes(), generator, at::TensorOptions().dtype(like.scalar_type()));
    const at::Tensor norm = z.flatten(1).norm(2, 1).view({-1, 1, 1, 1});
    out.push_back((z / norm).to(like.device()));
  }
  return out;
}

}  // namespace spdec::runtime
