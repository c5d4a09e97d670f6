#include "runtime/process/process_model.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "runtime/process/model_kinds.hpp"

namespace spdec::runtime {

namespace {

/// "linear (closed-form marginals)" etc.: the kind as messages name it.
std::string described(ModelKind kind) {
  switch (kind) {
    case ModelKind::linear:
      return "linear (closed-form marginals)";
    case ModelKind::decoupled:
      return "decoupled";
    case ModelKind::sde:
      return "sde (the simulated chain)";
  }
  return lang::name(kind);
}

/// A declared `param size` must be the grid's side.
void check_size(const lang::Process& process, std::int64_t height, std::int64_t width) {
  const lang::Param* size = process.find_param(lang::kSizeParam);
  if (size == nullptr) return;
  if (size->value != static_cast<double>(height) || size->value != static_cast<double>(width)) {
    throw std::invalid_argument(
        "process `" + process.name + "` declares `param size` = " + fmt::format("{}", size->value) +
        " but runs on a " + std::to_string(height) + " x " + std::to_string(width) +
        " grid: `size` is the image side (set it to the grid's side, as bind_process and the "
        "run configuration do)");
  }
}

}  // namespace

ProcessModel::ProcessModel(std::shared_ptr<const lang::Process> process,
                           std::unique_ptr<ProcessKernels> kernels, std::int64_t height,
                           std::int64_t width)
    : process_(std::move(process)), kernels_(std::move(kernels)), noise_(*process_, height, width) {
  if (!kernels_) throw std::invalid_argument("process model: no kernels");
  if (!process_->training.trainable()) {
    throw std::invalid_argument("process `" + process_->name + "`: " + process_->training.refusal);
  }
  check_size(*process_, height, width);
}

at::Tensor ProcessModel::ancestral_step(const at::Tensor& /*x*/, double /*t*/, double /*s*/,
                                        const at::Tensor& /*score*/, const NoiseSource& /*noise*/) {
  throw std::invalid_argument(
      "the ancestral sampler needs a linear process with exact "
      "marginals; process `" +
      process_->name + "` is " + described(kind()) + ": use the pc or ode sampler");
}

ModeScales ProcessModel::mode_scales(std::span<const double> /*t*/) {
  throw std::invalid_argument("process `" + process_->name + "` is " + described(kind()) +
                              ": its X_t given x0 has no per-mode scales; the denoiser "
                              "parameterisation needs a linear process or decoupled semantics");
}

at::Tensor ProcessModel::score_from_denoised(const at::Tensor& /*x*/, double /*t*/,
                                             const at::Tensor& /*x0_hat*/) {
  throw std::invalid_argument("process `" + process_->name + "` is " + described(kind()) +
                              ": a denoiser does not give its score");
}

at::Tensor ProcessModel::posterior_step(const at::Tensor& /*x*/, double /*t*/, double /*s*/,
                                        const at::Tensor& /*x0_hat*/,
                                        const PosteriorStep& /*options*/,
                                        const NoiseSource& /*noise*/) {
  throw std::invalid_argument(
      "the posterior sampler needs a linear process or decoupled "
      "semantics; process `" +
      process_->name + "` is " + described(kind()) + ": use the pc or ode sampler");
}

at::Tensor ProcessModel::white_noise(const at::Tensor& like, const NoiseSource& noise) {
  return kernels_->noise(like.sizes(), noise, like.device());
}

at::Tensor ProcessModel::correlated_noise(const at::Tensor& like, const NoiseSource& noise,
                                          double t) {
  const at::Tensor xi = white_noise(like, noise);
  return noise_.is_identity() ? xi : noise_.apply_sqrt(xi, t).to(at::kFloat).contiguous();
}

at::Tensor ProcessModel::kernel_u0(const at::Tensor& x0_hat) const {
  return process_->classification.reads_u0 ? x0_hat.contiguous() : at::Tensor();
}

at::Tensor ProcessModel::noise_diagonal(double t, const at::Tensor& like) const {
  if (noise_.is_identity()) return {};
  return noise_.diagonal(t).to(like.device(), at::kFloat).contiguous();
}

at::Tensor ProcessModel::score_term(const at::Tensor& x, const at::Tensor& u0, double t,
                                    const at::Tensor& score) {
  if (noise_.is_identity()) return score.contiguous();
  const at::Tensor g = kernels_->diffusion(x, u0, t);
  return noise_.apply(g * score, t).to(at::kFloat).contiguous();
}

at::Tensor ProcessModel::tamed_drift(const at::Tensor& x, const at::Tensor& u0, double t) {
  const at::Tensor b = kernels_->drift(x, u0, t);
  if (!process_->time.taming) return b;
  // The kernels' step scale Δt / (1 + Δt ‖b‖^γ) divided by Δt, with the
  // process's Δt (codegen/kernels.hpp): the velocity of the tamed chain.
  const double dt = process_->time.dt;
  const at::Tensor norm = b.to(at::kDouble).square().sum({1, 2, 3}, true).sqrt();
  return (b / (1.0 + dt * norm.pow(*process_->time.taming)).to(b.scalar_type())).contiguous();
}

std::unique_ptr<ProcessModel> make_process_model(std::shared_ptr<const lang::Process> process,
                                                 std::unique_ptr<ProcessKernels> kernels,
                                                 std::int64_t height, std::int64_t width,
                                                 const KnotValues* knots,
                                                 const ModelOptions& options) {
  if (!process) throw std::invalid_argument("process model: no process");
  switch (process->training.model) {
    case ModelKind::linear:
      return make_linear_model(std::move(process), std::move(kernels), height, width, knots);
    case ModelKind::decoupled:
      return make_decoupled_model(std::move(process), std::move(kernels), height, width, knots,
                                  options);
    case ModelKind::sde:
      return make_sde_model(std::move(process), std::move(kernels), height, width);
  }
  throw std::logic_error("make_process_model: unknown model kind");
}

}  // namespace spdec::runtime
