#include "runtime/training/network_score.hpp"

#include <ATen/core/grad_mode.h>

#include <utility>
#include <vector>

#include "runtime/process/score_parametrization.hpp"

namespace spdec::runtime {

Network bind_network(UNet net, double time_scale, at::Tensor labels) {
  return [net, time_scale, labels = std::move(labels)](const at::Tensor& x,
                                                       const at::Tensor& t) mutable {
    return net->forward(x, t / time_scale, labels);
  };
}

at::Tensor guided_output(UNet& net, const at::Tensor& x, const at::Tensor& time,
                         const at::Tensor& labels, double guidance) {
  const at::Tensor conditional = net->forward(x, time, labels);
  if (guidance == 0.0 || !labels.defined()) return conditional;
  const at::Tensor null_labels = at::full_like(labels, net->options().num_classes);
  const at::Tensor unconditional = net->forward(x, time, null_labels);
  return (1.0 + guidance) * conditional - guidance * unconditional;
}

NetworkScore::NetworkScore(UNet net, ProcessModel& model) : net_(std::move(net)), model_(model) {}

void NetworkScore::set_labels(at::Tensor labels, double guidance) {
  labels_ = std::move(labels);
  guidance_ = guidance;
}

at::Tensor NetworkScore::operator()(const at::Tensor& x, double t) {
  const at::NoGradGuard no_grad;
  const at::Tensor time =
      at::full({x.size(0)}, t / model_.end_time(), x.options().dtype(at::kFloat));
  const at::Tensor eps_hat = guided_output(net_, x.to(at::kFloat), time, labels_, guidance_);
  return score_from_noise(model_, x, t, eps_hat.to(x.scalar_type()));
}

NetworkDenoiser::NetworkDenoiser(UNet net, ProcessModel& model,
                                 const Preconditioner& preconditioner)
    : net_(std::move(net)), model_(model), preconditioner_(preconditioner) {}

void NetworkDenoiser::set_labels(at::Tensor labels, double guidance) {
  labels_ = std::move(labels);
  guidance_ = guidance;
}

at::Tensor NetworkDenoiser::operator()(const at::Tensor& x, double t) {
  const at::NoGradGuard no_grad;
  // One row of scales: every sample is at t, and the coefficients broadcast.
  const std::vector<double> time_row{t};
  const ModeScales scales = model_.mode_scales(time_row);
  const Preconditioner::State state = preconditioner_.at(x, scales);
  const at::Tensor time =
      at::full({x.size(0)}, t / model_.end_time(), x.options().dtype(at::kFloat));
  const at::Tensor output =
      guided_output(net_, state.input().to(at::kFloat), time, labels_, guidance_);
  return state.denoised(output.to(x.scalar_type()));
}

}  // namespace spdec::runtime
