#include "runtime/process/score_parametrization.hpp"

#include <ATen/core/grad_mode.h>

#include <cstdint>
#include <vector>

namespace spdec::runtime {

Covariance score_covariance(ProcessModel& model, const at::Tensor& x, double t,
                            const at::Tensor& eps_hat) {
  const at::NoGradGuard no_grad;
  const at::Tensor state = x.detach();
  Covariance c = model.covariance(t, state, state);
  if (!model.process().classification.reads_u0) return c;
  // Σ depends on x₀ (edge-preserving noise reads u0): one fixed-point pass.
  const at::Tensor score = -c.apply_inverse_sqrt_transpose(eps_hat.detach());
  const at::Tensor x0_hat = model.denoise(state, t, score);
  return model.covariance(t, state, x0_hat);
}

at::Tensor score_from_noise(ProcessModel& model, const at::Tensor& x, double t,
                            const at::Tensor& eps_hat) {
  return -score_covariance(model, x, t, eps_hat).apply_inverse_sqrt_transpose(eps_hat);
}

at::Tensor score_from_noise(ProcessModel& model, const at::Tensor& x, std::span<const double> t,
                            const at::Tensor& eps_hat) {
  const auto n = static_cast<std::int64_t>(t.size());
  std::vector<at::Tensor> rows;
  rows.reserve(t.size());
  for (std::int64_t begin = 0; begin < n;) {
    std::int64_t end = begin + 1;
    const auto at_begin = static_cast<std::size_t>(begin);
    while (end < n && t[static_cast<std::size_t>(end)] == t[at_begin]) ++end;
    rows.push_back(score_from_noise(model, x.narrow(0, begin, end - begin), t[at_begin],
                                    eps_hat.narrow(0, begin, end - begin)));
    begin = end;
  }
  return at::cat(rows, 0);
}

}  // namespace spdec::runtime
