#include "runtime/training/network_score.hpp"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <stdexcept>
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

at::Tensor network_time(ProcessModel& model, config::TimeInput input, const std::vector<double>& t,
                        const at::Device& device) {
  const auto n = static_cast<std::int64_t>(t.size());
  if (input == config::TimeInput::time) {
    return (at::tensor(t, at::kDouble) / model.end_time()).to(device, at::kFloat).view({n});
  }
  if (model.kind() == ModelKind::sde) {
    throw std::invalid_argument(
        "model.time_input = \"log_sigma\" needs a process with per-mode noise levels (linear or "
        "decoupled); process `" +
        model.process().name + "` is sde: use \"time\"");
  }
  // EDM's c_noise = ln σ / 4 (Karras et al. 2022, arXiv:2206.00364, table 1),
  // σ² the noise variance averaged over modes.
  const at::Tensor s2 = model.mode_scales(t).s2.to(at::kDouble);
  return (0.125 * at::log(s2.mean({1, 2, 3}))).to(device, at::kFloat).view({n});
}

std::vector<double> host_times(const at::Tensor& t) {
  const at::Tensor cpu = t.to(at::kCPU, at::kDouble).contiguous();
  return {cpu.data_ptr<double>(), cpu.data_ptr<double>() + cpu.numel()};
}

at::Tensor network_time(ProcessModel& model, config::TimeInput input, const at::Tensor& t,
                        double time_scale, const at::Device& device) {
  if (input == config::TimeInput::time) return (t / time_scale).to(device, at::kFloat);
  return network_time(model, input, host_times(t), device);
}

at::Tensor guided_output(UNet& net, const at::Tensor& x, const at::Tensor& time,
                         const at::Tensor& labels, double guidance) {
  const at::Tensor conditional = net->forward(x, time, labels);
  if (guidance == 0.0 || !labels.defined()) return conditional;
  const at::Tensor null_labels = at::full_like(labels, net->options().num_classes);
  const at::Tensor unconditional = net->forward(x, time, null_labels);
  return (1.0 + guidance) * conditional - guidance * unconditional;
}

NetworkScore::NetworkScore(UNet net, ProcessModel& model, config::TimeInput time_input)
    : net_(std::move(net)), model_(model), time_input_(time_input) {}

void NetworkScore::set_labels(at::Tensor labels, double guidance) {
  labels_ = std::move(labels);
  guidance_ = guidance;
}

at::Tensor NetworkScore::operator()(const at::Tensor& x, double t) {
  const at::NoGradGuard no_grad;
  const at::Tensor time =
      network_time(model_, time_input_, {t}, x.device()).expand({x.size(0)}).contiguous();
  const at::Tensor eps_hat = guided_output(net_, x.to(at::kFloat), time, labels_, guidance_);
  return score_from_noise(model_, x, t, eps_hat.to(x.scalar_type()));
}

NetworkDenoiser::NetworkDenoiser(UNet net, ProcessModel& model,
                                 const Preconditioner& preconditioner, config::TimeInput time_input)
    : net_(std::move(net)),
      model_(model),
      preconditioner_(preconditioner),
      time_input_(time_input) {}

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
      network_time(model_, time_input_, time_row, x.device()).expand({x.size(0)}).contiguous();
  const at::Tensor output =
      guided_output(net_, state.input().to(at::kFloat), time, labels_, guidance_);
  return state.denoised(output.to(x.scalar_type()));
}

}  // namespace spdec::runtime
