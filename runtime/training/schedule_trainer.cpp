#include "runtime/training/schedule_trainer.hpp"

#include <fmt/format.h>
#include <torch/autograd.h>

#include <cmath>
#include <stdexcept>

#include "runtime/base/splitmix.hpp"

namespace spdec::runtime {

ScheduleTrainer::ScheduleTrainer(const lang::Process& process, const NoiseOperator& noise,
                                 const ScheduleTrainingOptions& options)
    : noise_(noise),
      modes_(learnable_modes(process, noise_)),
      schedules_(std::make_shared<LearnedSchedules>(process)),
      options_(options) {
  optimizer_ = std::make_unique<torch::optim::Adam>(
      schedules_->parameters(),
      torch::optim::AdamOptions(options.lr).betas({0.9, 0.999}).eps(1e-8));
  t_begin_ = schedules_->knot_times(0).front();
  t_end_ = schedules_->knot_times(0).back();
}

double ScheduleTrainer::step(const FlowFunction& flow, const at::Tensor& x0, std::uint64_t key,
                             double lr) {
  ScheduleDraw draw;
  draw.x0 = x0;
  const auto options = at::TensorOptions().dtype(x0.scalar_type());
  at::Generator generator = at::detail::createCPUGenerator(mix(options_.seed, key, 0x5c4edULL));
  draw.times = t_begin_ + (t_end_ - t_begin_) * at::rand({x0.size(0)}, generator,
                                                         at::TensorOptions().dtype(at::kDouble));
  draw.noise = at::randn(x0.sizes(), generator, options).to(x0.device());
  draw.probes = sphere_probes(x0, options_.probes, mix(options_.seed, key, 0x9b0beULL));
  const ScheduleTerms terms =
      schedule_terms(modes_, *schedules_, noise_.basis(), flow, draw, options_.offset);
  const std::vector<at::Tensor> parameters = schedules_->parameters();
  const auto gradients = torch::autograd::grad({terms.loss + terms.surrogate}, parameters);
  optimizer_->zero_grad();
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    // A non-finite gradient (a diverging network) would poison Adam's moments
    // for good: that step leaves the knots alone.
    if (!at::isfinite(gradients[i]).all().item<bool>()) return terms.loss.item<double>();
    parameters[i].mutable_grad() = gradients[i].detach().clone();
  }
  for (auto& group : optimizer_->param_groups()) {
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  }
  optimizer_->step();
  return terms.loss.item<double>();
}

std::string ScheduleTrainer::summary() const {
  const KnotValues values = schedules_->values();
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::vector<double>& init = schedules_->init_values(i);
    const std::size_t n = values[i].size();
    out += (i == 0 ? "" : "; ") + schedules_->name(i);
    for (int q = 0; q <= 4; ++q) {
      const std::size_t k = (n - 1) * static_cast<std::size_t>(q) / 4;
      out += fmt::format(" x{:.3f}", values[i][k] / init[k]);
    }
  }
  return out;
}

std::string ScheduleTrainer::table() const {
  const KnotValues values = schedules_->values();
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    out +=
        fmt::format("{}(t) at {} knots on [{:.6g}, {:.6g}], learned (init):", schedules_->name(i),
                    values[i].size(), t_begin_, t_end_);
    for (std::size_t k = 0; k < values[i].size(); ++k) {
      out += fmt::format(" {:.6g} ({:.6g})", values[i][k], schedules_->init_values(i)[k]);
    }
    out += "\n";
  }
  return out;
}

}  // namespace spdec::runtime
