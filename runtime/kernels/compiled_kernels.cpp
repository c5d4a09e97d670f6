// The generated kernels behind the ProcessKernels interface: CPU entry points
// from the host JIT (one call each), CUDA entry points from NVRTC launched
// on LibTorch's current stream following codegen::cuda_plan.
#include <ATen/ATen.h>
#if defined(SPDEC_TORCH_CUDA)
#include <c10/cuda/CUDAStream.h>
#endif

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "codegen/abi.hpp"
#include "codegen/compile.hpp"
#include "codegen/jit/cuda_driver.hpp"
#include "codegen/kernels.hpp"
#include "runtime/kernels/process_kernels.hpp"

namespace spdec::runtime {
namespace {

using codegen::KernelArgs;
using codegen::KernelKind;

/// Checks a [N, C, H, W] float32 contiguous tensor on `device` (or undefined
/// when optional), naming the argument in the error.
void check_state(const at::Tensor& t, const char* what, const at::Device& device,
                 at::IntArrayRef shape, bool optional) {
  if (!t.defined()) {
    if (optional) return;
    throw std::invalid_argument(std::string("spdec kernels: `") + what + "` is required");
  }
  const auto fail = [&](const std::string& why) {
    throw std::invalid_argument(std::string("spdec kernels: `") + what + "` " + why);
  };
  if (t.scalar_type() != at::kFloat)
    fail("must be float32, got " + std::string(at::toString(t.scalar_type())));
  if (t.device() != device)
    fail("is on " + t.device().str() + ", the kernels run on " + device.str());
  if (!t.is_contiguous()) fail("must be contiguous (call .contiguous())");
  if (!shape.empty() && t.sizes() != shape) {
    fail("has shape " + c10::str(t.sizes()) + ", expected " + c10::str(shape));
  }
}

at::IntArrayRef state_shape(const at::Tensor& u) {
  if (u.dim() != 4) {
    throw std::invalid_argument("spdec kernels: the state must be [N, C, H, W], got " +
                                c10::str(u.sizes()));
  }
  return u.sizes();
}

class CompiledKernels final : public ProcessKernels {
 public:
  CompiledKernels(std::shared_ptr<const lang::Process> process,
                  std::shared_ptr<const codegen::StencilProgram> program, const at::Device& device,
                  KernelsOptions options)
      : process_(std::move(process)),
        program_(std::move(program)),
        device_(device),
        options_(options) {
    const auto target = device.is_cuda() ? codegen::Target::cuda : codegen::Target::cpu;
    module_ = codegen::compile_program(*program_, target);
    if (device.is_cuda())
      cuda_ = std::make_unique<jit::CudaModule>(jit::CudaModule::load(module_.image));
  }

  [[nodiscard]] std::string backend() const override {
    return device_.is_cuda() ? "compiled-cuda" : "compiled-cpu";
  }

  at::Tensor drift(const at::Tensor& u, const at::Tensor& u0, double t) override {
    return run_simple(KernelKind::drift, u, u0, t, {});
  }
  at::Tensor diffusion(const at::Tensor& u, const at::Tensor& u0, double t) override {
    return run_simple(KernelKind::diffusion, u, u0, t, {});
  }
  at::Tensor div_sigma(const at::Tensor& u, const at::Tensor& u0, double t,
                       const at::Tensor& qdiag) override {
    return run_simple(KernelKind::div_sigma, u, u0, t, qdiag);
  }

  at::Tensor noise(at::IntArrayRef shape, const NoiseSource& source,
                   const at::Device& device) override {
    const at::Tensor out = at::empty(shape, at::TensorOptions().dtype(at::kFloat).device(device));
    KernelArgs args = base_args(out, out, at::Tensor(), 0.0, 1.0, /*fields_read=*/false);
    at::Tensor ids = bind_noise(args, source, out.size(0), /*white_only=*/false);
    run(KernelKind::noise, args, out);
    return out;
  }

  at::Tensor forward_step(const at::Tensor& u, const at::Tensor& u0, double t, double dt,
                          const NoiseSource& noise) override {
    at::Tensor out = at::empty_like(u);
    KernelArgs args = base_args(u, out, u0, t, dt);
    at::Tensor ids = bind_noise(args, noise, u.size(0));
    Workspace workspace = bind_workspace(args, KernelKind::forward_step, u);
    run(KernelKind::forward_step, args, out);
    return out;
  }

  at::Tensor flow_steps(const at::Tensor& u, const at::Tensor& u0, double t, double dt,
                        std::int64_t steps, at::Tensor* variance) override {
    if (steps <= 0) return u.clone();
    at::Tensor out = at::empty_like(u);
    KernelArgs args = base_args(u, out, u0, t, dt);
    const at::Tensor params = params_table(t, dt, steps);
    args.params = params.data_ptr<float>();
    args.steps = static_cast<std::int32_t>(steps);
    if (variance != nullptr) {
      check_state(*variance, "variance", device_, u.sizes(), false);
      args.out2 = variance->data_ptr<float>();
    }
    Workspace workspace = bind_workspace(args, KernelKind::flow_steps, u);
    if (!device_.is_cuda()) {
      call_cpu(KernelKind::flow_steps, args);
      return out;
    }
    // CUDA: one launch (plan) per step, ping-ponging between out and a buffer.
    at::Tensor other = at::empty_like(u);
    const float* src = u.data_ptr<float>();
    for (std::int64_t k = 0; k < steps; ++k) {
      float* dst = ((steps - 1 - k) % 2 == 0) ? out.data_ptr<float>() : other.data_ptr<float>();
      args.u = src;
      args.out = dst;
      args.params =
          params.data_ptr<float>() + k * static_cast<std::int64_t>(program_->params.size());
      launch_plan(KernelKind::flow_steps, args, u);
      src = dst;
    }
    return out;
  }

  at::Tensor fed_steps(const at::Tensor& u, const at::Tensor& frozen, const at::Tensor& u0,
                       const FedCycle& cycle, at::Tensor* variance) override {
    if (!program_->fed.available) {
      throw std::invalid_argument("spdec kernels: process " + program_->process_name +
                                  " has no FED operator: " + program_->fed.refusal);
    }
    const auto steps = static_cast<std::int64_t>(cycle.taus.size());
    at::Tensor out = at::empty_like(u);
    KernelArgs args = base_args(u, out, u0, cycle.t_begin, 0.0);
    if (frozen.defined()) {
      check_state(frozen, "frozen", device_, u.sizes(), false);
      args.frozen = frozen.data_ptr<float>();
    }
    if (steps == 0) return u.clone();
    const FedParams host = fed_host_params(*process_, *program_, cycle, options_.knots);
    const auto count = static_cast<std::int64_t>(program_->params.size());
    const std::int64_t stride = std::max<std::int64_t>(count, 1);
    // One table: row 0 the operator's params, rows 1.. the steps' (for g),
    // then the step sizes.
    at::Tensor table = at::zeros({(steps + 1) * stride + steps}, at::kDouble);
    auto* values = table.data_ptr<double>();
    for (std::int64_t i = 0; i < count; ++i) values[i] = host.op[static_cast<std::size_t>(i)];
    for (std::int64_t k = 0; k < steps; ++k) {
      for (std::int64_t i = 0; i < count; ++i) {
        values[(k + 1) * stride + i] =
            host.steps[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)];
      }
      values[(steps + 1) * stride + k] = cycle.taus[static_cast<std::size_t>(k)];
    }
    const at::Tensor device_table =
        table.to(at::TensorOptions().dtype(at::kFloat).device(device_)).contiguous();
    float* base = device_table.data_ptr<float>();
    args.params = base;
    args.params2 = base + stride;
    args.taus = base + (steps + 1) * stride;
    args.steps = static_cast<std::int32_t>(steps);
    if (variance != nullptr) {
      check_state(*variance, "variance", device_, u.sizes(), false);
      args.out2 = variance->data_ptr<float>();
    }
    Workspace workspace = bind_workspace(args, KernelKind::fed_steps, u);
    if (!device_.is_cuda()) {
      call_cpu(KernelKind::fed_steps, args);
      return out;
    }
    // CUDA: the cached fields once, then one launch per step, ping-ponging.
    const codegen::CudaPlan plan = codegen::cuda_plan(*program_, KernelKind::fed_steps);
    launch_entry(plan.entries.at(0), args, u);
    at::Tensor other = at::empty_like(u);
    const float* src = u.data_ptr<float>();
    if (args.frozen == nullptr) args.frozen = src;  // the kernel's v: u at the cycle's start
    for (std::int64_t k = 0; k < steps; ++k) {
      float* dst = ((steps - 1 - k) % 2 == 0) ? out.data_ptr<float>() : other.data_ptr<float>();
      args.u = src;
      args.out = dst;
      args.params2 = base + (k + 1) * stride;
      args.dt = static_cast<float>(cycle.taus[static_cast<std::size_t>(k)]);
      launch_entry(plan.entries.at(1), args, u);
      src = dst;
    }
    return out;
  }

  at::Tensor reverse_step(const at::Tensor& u, const at::Tensor& u0, double t, double dt,
                          const at::Tensor& score_term, const at::Tensor& qdiag,
                          const NoiseSource& noise) override {
    return run_score_kernel(KernelKind::reverse_step, u, u0, t, dt, score_term, qdiag, &noise);
  }

  at::Tensor ode_velocity(const at::Tensor& u, const at::Tensor& u0, double t, double dt,
                          const at::Tensor& score_term, const at::Tensor& qdiag) override {
    return run_score_kernel(KernelKind::ode_step, u, u0, t, dt, score_term, qdiag, nullptr);
  }

 private:
  /// Tensors that back pointers in KernelArgs must outlive the call.
  struct Workspace {
    at::Tensor scratch;
    at::Tensor norms;
  };

  /// fields_read: the kernel evaluates b or g (so u0 is needed when read).
  KernelArgs base_args(const at::Tensor& u, const at::Tensor& out, const at::Tensor& u0, double t,
                       double dt, bool fields_read = true) {
    const at::IntArrayRef shape = state_shape(u);
    check_state(u, "u", device_, {}, false);
    if (program_->reads_u0 && fields_read) check_state(u0, "u0", device_, shape, false);
    check_state(u0, "u0", device_, shape, true);
    KernelArgs args{};
    args.u = u.data_ptr<float>();
    args.u0 = u0.defined() ? u0.data_ptr<float>() : nullptr;
    args.out = out.data_ptr<float>();
    args.N = shape[0];
    args.C = static_cast<std::int32_t>(shape[1]);
    args.H = static_cast<std::int32_t>(shape[2]);
    args.W = static_cast<std::int32_t>(shape[3]);
    args.dt = static_cast<float>(dt);
    args.sqrt_dt = static_cast<float>(std::sqrt(dt));
    args.steps = 1;
    params_ = params_table(t, dt, 1);
    args.params = params_.data_ptr<float>();
    return args;
  }

  /// [steps, P] float params on the device, row k at t + k dt (in double).
  at::Tensor params_table(double t, double dt, std::int64_t steps) const {
    const auto count = static_cast<std::int64_t>(program_->params.size());
    // One column at least, so a process without params still gets a pointer.
    const std::int64_t stride = std::max<std::int64_t>(count, 1);
    at::Tensor table = at::zeros({steps, stride}, at::kDouble);
    auto* values = table.data_ptr<double>();
    for (std::int64_t k = 0; k < steps; ++k) {
      const auto row =
          host_params(*process_, *program_, t + static_cast<double>(k) * dt, options_.knots);
      for (std::int64_t i = 0; i < count; ++i)
        values[k * stride + i] = row[static_cast<std::size_t>(i)];
    }
    return table.to(at::TensorOptions().dtype(at::kFloat).device(device_)).contiguous();
  }

  /// white_only: the kernel draws ζ itself unless given, so Q must be I then.
  at::Tensor bind_noise(KernelArgs& args, const NoiseSource& noise, std::int64_t n,
                        bool white_only = true) {
    args.seed = noise.seed;
    args.step = noise.step;
    if (noise.correlated.defined()) {
      check_state(noise.correlated, "noise", device_, {}, false);
      args.noise = noise.correlated.data_ptr<float>();
    } else if (white_only && !program_->noise_identity) {
      throw std::invalid_argument(
          "spdec kernels: this process's noise is correlated (Q is not the identity): pass "
          "NoiseSource::correlated = Q^(1/2) xi");
    }
    if (!noise.sample_ids.defined()) return {};
    if (noise.sample_ids.scalar_type() != at::kLong || noise.sample_ids.numel() != n) {
      throw std::invalid_argument("spdec kernels: sample_ids must be int64 [N]");
    }
    at::Tensor ids = noise.sample_ids.to(device_).contiguous();
    args.sample_ids =
        reinterpret_cast<const std::uint64_t*>(ids.data_ptr<std::int64_t>());  // NOLINT: same bits
    return ids;
  }

  Workspace bind_workspace(KernelArgs& args, KernelKind kind, const at::Tensor& u) {
    Workspace w;
    const auto opts = at::TensorOptions().dtype(at::kFloat).device(device_);
    const std::int64_t floats =
        codegen::workspace_floats(*program_, kind, u.size(0), u.size(1), u.size(2), u.size(3));
    // CUDA keeps b only (one atomic sum per block), the CPU also one partial per row.
    w.scratch = at::empty({std::max<std::int64_t>(floats, 1)}, opts);
    w.norms = at::zeros({u.size(0)}, opts);
    args.scratch = w.scratch.data_ptr<float>();
    args.norms = w.norms.data_ptr<float>();
    return w;
  }

  at::Tensor run_simple(KernelKind kind, const at::Tensor& u, const at::Tensor& u0, double t,
                        const at::Tensor& qdiag) {
    at::Tensor out = at::empty_like(u);
    KernelArgs args = base_args(u, out, u0, t, program_->dt);
    bind_qdiag(args, qdiag, u);
    run(kind, args, out);
    return out;
  }

  void bind_qdiag(KernelArgs& args, const at::Tensor& qdiag, const at::Tensor& u) {
    if (!qdiag.defined()) return;
    check_state(qdiag, "qdiag", device_, {u.size(2), u.size(3)}, false);
    args.qdiag = qdiag.data_ptr<float>();
  }

  at::Tensor run_score_kernel(KernelKind kind, const at::Tensor& u, const at::Tensor& u0, double t,
                              double dt, const at::Tensor& score_term, const at::Tensor& qdiag,
                              const NoiseSource* noise) {
    at::Tensor out = at::empty_like(u);
    KernelArgs args = base_args(u, out, u0, t, dt);
    check_state(score_term, "score", device_, u.sizes(), false);
    args.score = score_term.data_ptr<float>();
    bind_qdiag(args, qdiag, u);
    at::Tensor ids = noise != nullptr ? bind_noise(args, *noise, u.size(0)) : at::Tensor();
    Workspace workspace = bind_workspace(args, kind, u);
    run(kind, args, out);
    return out;
  }

  void run(KernelKind kind, KernelArgs& args, const at::Tensor& like) {
    if (device_.is_cuda()) {
      launch_plan(kind, args, like);
    } else {
      call_cpu(kind, args);
    }
  }

  void call_cpu(KernelKind kind, const KernelArgs& args) const {
    using Entry = void(const KernelArgs*);
    module_.library->function<Entry>(codegen::cpu_entry(kind))(&args);
  }

  void launch_plan(KernelKind kind, KernelArgs& args, const at::Tensor& like) {
    const codegen::CudaPlan plan = codegen::cuda_plan(*program_, kind);
    void* stream = current_stream();
    if (plan.zero_norms) {
      at::Tensor norms = at::from_blob(args.norms, {like.size(0)},
                                       at::TensorOptions().dtype(at::kFloat).device(device_));
      norms.zero_();
    }
    for (const std::string& entry : plan.entries) launch_entry(entry, args, like, stream);
  }

  void launch_entry(const std::string& entry, KernelArgs& args, const at::Tensor& like,
                    void* stream = nullptr) {
    if (stream == nullptr) stream = current_stream();
    const std::int64_t per_sample = like.size(1) * like.size(2) * like.size(3);
    void* parameter = &args;
    const jit::CudaFunction function = cuda_->function(entry);
    const auto block = static_cast<unsigned>(codegen::kCudaBlock);
    jit::Dim3 grid;
    if (entry == "spdec_drift_norms") {
      grid.x =
          static_cast<unsigned>(std::min<std::int64_t>((per_sample + block - 1) / block, 1024));
      grid.y = static_cast<unsigned>(like.size(0));
    } else {
      grid.x =
          static_cast<unsigned>(std::min<std::int64_t>((like.numel() + block - 1) / block, 65535));
    }
    cuda_->launch(function, grid, {block, 1, 1}, 0, stream, &parameter);
  }

  /// LibTorch's current CUDA stream as a CUstream (the runtime API's
  /// cudaStream_t is the same handle).
  [[nodiscard]] void* current_stream() const {
#if defined(SPDEC_TORCH_CUDA)
    return static_cast<void*>(c10::cuda::getCurrentCUDAStream(device_.index()).stream());
#else
    return nullptr;  // a LibTorch without CUDA cannot have made a stream: the default one
#endif
  }

  std::shared_ptr<const lang::Process> process_;
  std::shared_ptr<const codegen::StencilProgram> program_;
  at::Device device_;
  KernelsOptions options_;
  codegen::CompiledModule module_;
  std::unique_ptr<jit::CudaModule> cuda_;
  at::Tensor params_;
};

}  // namespace

std::unique_ptr<ProcessKernels> make_compiled_kernels(
    std::shared_ptr<const lang::Process> process,
    std::shared_ptr<const codegen::StencilProgram> program, const at::Device& device,
    KernelsOptions options) {
  return std::make_unique<CompiledKernels>(std::move(process), std::move(program), device, options);
}

std::unique_ptr<ProcessKernels> make_kernels(config::Backend backend,
                                             std::shared_ptr<const lang::Process> process,
                                             std::shared_ptr<const codegen::StencilProgram> program,
                                             const at::Device& device, KernelsOptions options) {
  if (backend == config::Backend::reference)
    return make_reference_kernels(std::move(process), std::move(program), options);
  std::string why;
  const auto target = device.is_cuda() ? codegen::Target::cuda : codegen::Target::cpu;
  bool available = codegen::target_available(target, &why);
  if (available && device.is_cuda() && !jit::cuda_driver_available()) {
    available = false;
    why = jit::cuda_driver_error();
  }
  if (!available) {
    if (backend == config::Backend::compiled)
      throw std::runtime_error("backend \"compiled\" unavailable: " + why);
    static bool said = false;
    if (!said) {
      said = true;
      std::fprintf(stderr,
                   "spdec: compiled kernels unavailable (%s); using the reference evaluator\n",
                   why.c_str());
    }
    return make_reference_kernels(std::move(process), std::move(program), options);
  }
  return make_compiled_kernels(std::move(process), std::move(program), device, options);
}

}  // namespace spdec::runtime
