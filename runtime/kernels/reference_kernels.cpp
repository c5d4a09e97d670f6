// The reference evaluator: the stencil IR evaluated with LibTorch tensor ops
// on any device, differentiable. It is the oracle of the differential tests
// of the generated kernels and the fallback backend, so it follows the
// generated code's arithmetic (codegen/emit_pixel.cpp, codegen/emit_cpp.cpp)
// and the kernel formulas of codegen/kernels.hpp exactly, except for the
// order of floating-point sums and the way d = ∂gᵢ/∂uᵢ is obtained:
//
// div Σ needs the diagonal of the Jacobian of the discretised diffusion
// coefficient g(u). The compiled kernels evaluate the symbolic derivative
// (the diffusion_du root, with `indicator` nodes); the reference instead takes
// it from autograd, independently of codegen/differentiate.cpp. The diagonal
// is exact, not estimated, by colouring: g at pixel i reads u only within the
// root's stencil reach R = (Rx, Ry) of i (the ghost rules clamp, wrap or
// replace positions and never move them farther away), and samples never
// mix. Split the pixels into classes by (x mod mx, y mod my) with mx > Rx,
// my > Ry (and, when channels are coupled, by channel too, since g of one
// channel reads all channels). For a class S, one vector-Jacobian product
// with the indicator vector of S gives at j ∈ S the sum Σ_{i∈S} ∂gᵢ/∂uⱼ, and
// every term with i ≠ j vanishes because two distinct pixels of S are more
// than R apart along some axis. So mx·my (·C) backward passes give the whole
// diagonal. Under a periodic boundary "apart" is on the torus: m must divide
// the size (else each column is its own class).
#include "runtime/kernels/reference_kernels.hpp"

#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "codegen/rng/philox.h"
#include "runtime/kernels/process_kernels.hpp"

namespace spdec::runtime {
namespace reference {
namespace {

using codegen::Kind;
using codegen::Node;
using codegen::NodeId;

void check_state(const at::Tensor& u) {
  if (!u.defined() || u.dim() != 4) {
    throw std::invalid_argument("reference kernels: the state must be a [N, C, H, W] tensor");
  }
  if (u.scalar_type() != at::kFloat && u.scalar_type() != at::kDouble) {
    throw std::invalid_argument("reference kernels: the state must be float32 (or float64)");
  }
  if (u.size(2) < 1 || u.size(3) < 1) {
    throw std::invalid_argument("reference kernels: the state has an empty grid");
  }
}

const at::Tensor& checked(const at::Tensor& u) {
  check_state(u);
  return u;
}

/// Evaluates nodes of one program on one state, memoising every node (the
/// tensors of shared subexpressions are computed once).
class Evaluator {
 public:
  /// frozen: the FED operator's lagged state (read by Field::frozen loads).
  Evaluator(const codegen::StencilProgram& program, const at::Tensor& u, const at::Tensor& u0,
            const std::vector<double>& params, const at::Tensor& frozen = {})
      : program_(program),
        graph_(program.graph),
        u_(checked(u)),
        options_(u.options()),
        height_(u.size(2)),
        width_(u.size(3)) {
    if (u0.defined()) {
      if (u0.dim() != 4 || u0.size(2) != height_ || u0.size(3) != width_) {
        throw std::invalid_argument("reference kernels: u0 must be [N, C, H, W] like u");
      }
      u0_ = u0.to(u.device(), u.scalar_type());
    }
    if (frozen.defined()) frozen_ = frozen.to(u.device(), u.scalar_type());
    params_.reserve(params.size());
    for (const double value : params) params_.push_back(scalar(value));
  }

  /// The tensor of `root` (broadcastable to the state's shape).
  at::Tensor operator()(NodeId root) {
    if (root == codegen::kNoNode) throw std::logic_error("reference kernels: no such root");
    for (const NodeId id : codegen::topological_order(graph_, {root})) {
      if (memo_.find(id) == memo_.end()) memo_.emplace(id, compute(graph_[id]));
    }
    return memo_.at(root);
  }

  /// The tensor of `root` with the state's shape, never aliasing an input.
  at::Tensor full(NodeId root) {
    at::Tensor t = (*this)(root).expand(u_.sizes());
    if (!t.is_contiguous()) return t.contiguous();
    if (t.is_same(u_) || (u0_.defined() && t.is_same(u0_))) return t.clone();
    return t;
  }

  at::Tensor scalar(double value) const { return at::scalar_tensor(value, options_); }

  /// The decoupled reading's noise variance over one step h, in place (as
  /// the compiled kernels write into the caller's tensor): with z = 2hc, c
  /// the program's noise rate, e^z·var + h φ(z) g², φ(z) = (e^z − 1)/z
  /// (codegen/emit.hpp, variance_step); else var + h g².
  void variance_step(at::Tensor& variance, double h) {
    const at::Tensor g = full(program_.diffusion.general);
    at::Tensor added = scalar(h) * g * g;
    if (program_.noise_rate_param >= 0) {
      const at::Tensor z =
          scalar(2.0 * h) * params_.at(static_cast<std::size_t>(program_.noise_rate_param));
      const at::Tensor phi = at::where(z != 0, at::expm1(z) / z, at::ones_like(z));
      variance.mul_(at::exp(z).to(variance.scalar_type()));
      added = added * phi;
    }
    variance.add_(added.to(variance.scalar_type()));
  }

 private:
  at::Tensor compute(const Node& node) {
    switch (node.kind) {
      case Kind::constant:
        return scalar(node.value);
      case Kind::param:
        if (node.a < 0 || static_cast<std::size_t>(node.a) >= params_.size()) {
          throw std::invalid_argument("reference kernels: param slot p" + std::to_string(node.a) +
                                      " has no value (host_params gave " +
                                      std::to_string(params_.size()) + ")");
        }
        return params_[static_cast<std::size_t>(node.a)];
      case Kind::load:
        if (node.field == codegen::Field::u) return u_;
        if (node.field == codegen::Field::frozen) return frozen_.defined() ? frozen_ : u_;
        if (node.field == codegen::Field::cached) {
          throw std::logic_error(
              "reference kernels: a cached field (the reference evaluates the FED operator "
              "fed.lagged, never its hoisted form)");
        }
        if (!u0_.defined()) {
          throw std::invalid_argument("reference kernels: the process reads u0 but none was given");
        }
        return u0_;
      case Kind::coord_x:
        return at::arange(width_, options_).view({1, 1, 1, width_}).expand({1, 1, height_, width_});
      case Kind::coord_y:
        return at::arange(height_, options_)
            .view({1, 1, height_, 1})
            .expand({1, 1, height_, width_});
      case Kind::at:
        return shift(arg(node, 0), node.a, node.b, node.value);
      case Kind::indicator:
        throw std::logic_error(
            "reference kernels: an indicator outside diffusion_du (the reference takes "
            "d g / d u from autograd and never evaluates it)");
      case Kind::channel_sum: {
        const at::Tensor e = arg(node, 0);
        return e.expand({u_.size(0), u_.size(1), height_, width_}).sum(1, /*keepdim=*/true);
      }
      case Kind::apply:
        return apply(node);
    }
    throw std::logic_error("reference kernels: unknown node kind");
  }

  const at::Tensor& arg(const Node& node, std::size_t i) const { return memo_.at(node.args.at(i)); }

  /// t with full spatial dimensions (positional nodes always have them;
  /// this only guards the index_select below).
  at::Tensor spatial(const at::Tensor& t) const {
    if (t.dim() == 4 && t.size(2) == height_ && t.size(3) == width_) return t;
    const std::int64_t n = t.dim() == 4 ? t.size(0) : 1;
    const std::int64_t c = t.dim() == 4 ? t.size(1) : 1;
    return t.expand({n, c, height_, width_});
  }

  /// The source index of every position along an axis of `size` after a
  /// move by d under the ghost rule (Dirichlet: clamped, for the read only).
  const at::Tensor& index(std::int64_t size, std::int32_t d, int axis) {
    const auto key = std::tuple{axis, d};
    if (const auto found = indices_.find(key); found != indices_.end()) return found->second;
    std::vector<std::int64_t> values(static_cast<std::size_t>(size));
    for (std::int64_t i = 0; i < size; ++i) {
      std::int64_t j = i + d;
      if (program_.boundary == lang::BoundaryKind::periodic) {
        j %= size;
        if (j < 0) j += size;
      } else {
        j = std::clamp<std::int64_t>(j, 0, size - 1);
      }
      values[static_cast<std::size_t>(i)] = j;
    }
    at::Tensor t = at::tensor(values, at::TensorOptions().dtype(at::kLong)).to(u_.device());
    return indices_.emplace(key, std::move(t)).first->second;
  }

  /// Dirichlet: true where p + (di, dj) is inside the grid, [1, 1, H, W].
  at::Tensor inside(std::int32_t di, std::int32_t dj) const {
    const auto in_range = [&](std::int64_t size, std::int32_t d) {
      const at::Tensor moved = at::arange(size, at::TensorOptions().dtype(at::kLong)) + d;
      return at::logical_and(moved >= 0, moved < size);
    };
    const at::Tensor rows = in_range(height_, dj).view({height_, 1});
    const at::Tensor columns = in_range(width_, di).view({1, width_});
    return at::logical_and(rows, columns).view({1, 1, height_, width_}).to(u_.device());
  }

  /// at(e, di, dj): e read at G(p + (di, dj)) for every p.
  at::Tensor shift(const at::Tensor& e, std::int32_t di, std::int32_t dj, double ghost) {
    at::Tensor t = spatial(e);
    if (di != 0) t = t.index_select(3, index(width_, di, 3));
    if (dj != 0) t = t.index_select(2, index(height_, dj, 2));
    if (program_.boundary == lang::BoundaryKind::dirichlet) {
      t = at::where(inside(di, dj), t, scalar(ghost));
    }
    return t;
  }

  at::Tensor as_value(const at::Tensor& condition) const { return condition.to(options_.dtype()); }

  at::Tensor apply(const Node& node) {
    using lang::Op;
    const at::Tensor& a = arg(node, 0);
    const auto b = [&]() -> const at::Tensor& { return arg(node, 1); };
    switch (node.op) {
      case Op::neg:
        return -a;
      case Op::add:
        return a + b();
      case Op::sub:
        return a - b();
      case Op::mul:
        return a * b();
      case Op::div:
        return a / b();
      case Op::pow:
        // As emitted: x^2 is x * x, any other exponent powf.
        if (graph_[node.args[1]].is_constant(2.0)) return a * a;
        return at::pow(a, b());
      case Op::lt:
        return as_value(at::lt(a, b()));
      case Op::le:
        return as_value(at::le(a, b()));
      case Op::gt:
        return as_value(at::gt(a, b()));
      case Op::ge:
        return as_value(at::ge(a, b()));
      case Op::eq:
        return as_value(at::eq(a, b()));
      case Op::ne:
        return as_value(at::ne(a, b()));
      case Op::logical_and:
        return as_value(at::logical_and(a != 0, b() != 0));
      case Op::logical_or:
        return as_value(at::logical_or(a != 0, b() != 0));
      case Op::logical_not:
        return as_value(a == 0);
      case Op::select:
        return at::where(a != 0, b(), arg(node, 2));
      case Op::exp:
        return at::exp(a);
      case Op::log:
        return at::log(a);
      case Op::sqrt:
        return at::sqrt(a);
      case Op::abs:
        return at::abs(a);
      case Op::sin:
        return at::sin(a);
      case Op::cos:
        return at::cos(a);
      case Op::tanh:
        return at::tanh(a);
      case Op::sigmoid:
        return at::sigmoid(a);
      case Op::min:  // fminf / fmaxf: a NaN operand gives the other one
        return at::fmin(a, b());
      case Op::max:
        return at::fmax(a, b());
      default:
        break;
    }
    throw std::logic_error(std::string("reference kernels: cannot evaluate ") +
                           lang::name(node.op));
  }

  const codegen::StencilProgram& program_;
  const codegen::Graph& graph_;
  at::Tensor u_;
  at::Tensor u0_;
  at::Tensor frozen_;
  at::TensorOptions options_;
  std::int64_t height_;
  std::int64_t width_;
  std::vector<at::Tensor> params_;
  std::unordered_map<NodeId, at::Tensor> memo_;
  std::map<std::tuple<int, std::int32_t>, at::Tensor> indices_;
};

/// The colour class of every element of a [1, C', H, W] grid (C' = C when
/// channels are coupled, else 1), and the number of classes.
std::pair<at::Tensor, std::int64_t> colour_classes(const codegen::StencilProgram& program,
                                                   const at::Tensor& u) {
  const Reach r = reach(program.graph, program.diffusion.general);
  const bool periodic = program.boundary == lang::BoundaryKind::periodic;
  const std::int64_t channels = program.coupled_channels ? u.size(1) : 1;
  const std::int64_t height = u.size(2);
  const std::int64_t width = u.size(3);
  const std::int64_t mx = colours(width, r.x, periodic);
  const std::int64_t my = colours(height, r.y, periodic);
  const at::TensorOptions longs = at::TensorOptions().dtype(at::kLong);
  const at::Tensor c = at::arange(channels, longs).view({1, channels, 1, 1});
  const at::Tensor y = at::remainder(at::arange(height, longs), my).view({1, 1, height, 1});
  const at::Tensor x = at::remainder(at::arange(width, longs), mx).view({1, 1, 1, width});
  return {((c * my + y) * mx + x).to(u.device()), channels * my * mx};
}

}  // namespace

at::Tensor evaluate(const codegen::StencilProgram& program, codegen::NodeId root,
                    const at::Tensor& u, const at::Tensor& u0, const std::vector<double>& params) {
  Evaluator evaluator(program, u, u0, params);
  return evaluator(root);
}

Reach reach(const codegen::Graph& graph, codegen::NodeId root) {
  if (root == codegen::kNoNode) return {};
  std::unordered_map<NodeId, Reach> reaches;
  for (const NodeId id : codegen::topological_order(graph, {root})) {
    const Node& node = graph[id];
    Reach r;
    for (std::size_t i = 0; i < node.arity; ++i) {
      const Reach& a = reaches.at(node.args.at(i));
      r.x = std::max(r.x, a.x);
      r.y = std::max(r.y, a.y);
    }
    if (node.kind == Kind::at) {
      r.x += std::abs(node.a);
      r.y += std::abs(node.b);
    }
    reaches.emplace(id, r);
  }
  return reaches.at(root);
}

std::int64_t colours(std::int64_t size, std::int32_t r, bool periodic) {
  const std::int64_t needed = static_cast<std::int64_t>(r) + 1;
  if (needed >= size) return size;
  if (!periodic) return needed;
  for (std::int64_t m = needed; m < size; ++m) {
    if (size % m == 0) return m;
  }
  return size;
}

DiffusionDerivative diffusion_derivative(const codegen::StencilProgram& program,
                                         const at::Tensor& u, const at::Tensor& u0,
                                         const std::vector<double>& params) {
  check_state(u);
  const NodeId root = program.diffusion.general;
  if ((program.graph[root].depends & codegen::depends_u) == 0) {
    Evaluator evaluator(program, u, u0, params);
    const at::Tensor g = evaluator.full(root);
    return {g, at::zeros_like(g)};
  }
  // The derivative is wanted as part of the caller's graph when the caller
  // records one; else a detached copy of u is the leaf to differentiate by.
  const bool recording = c10::GradMode::is_enabled() && !c10::InferenceMode::is_enabled();
  const bool create_graph =
      recording && (u.requires_grad() || (u0.defined() && u0.requires_grad()));
  const bool inference = c10::InferenceMode::is_enabled();

  DiffusionDerivative out;
  {
    // Autograd on, whatever the caller's mode; tensors made under
    // InferenceMode cannot take part in a graph, so they are copied.
    std::optional<c10::InferenceMode> no_inference;
    if (inference) no_inference.emplace(false);
    const c10::AutoGradMode grad_on(true);
    at::Tensor x = (create_graph && u.requires_grad())
                       ? u
                       : (inference ? u.clone() : u.detach()).requires_grad_(true);
    const at::Tensor x0 = (u0.defined() && u0.is_inference()) ? u0.clone() : u0;

    Evaluator evaluator(program, x, x0, params);
    const at::Tensor g = evaluator.full(root);
    at::Tensor d = at::zeros_like(x);
    if (g.requires_grad()) {
      const auto [classes, count] = colour_classes(program, x);
      for (std::int64_t k = 0; k < count; ++k) {
        const at::Tensor mask = (classes == k).to(x.scalar_type()).expand(x.sizes()).contiguous();
        const auto grads = torch::autograd::grad({g}, {x}, {mask}, /*retain_graph=*/true,
                                                 create_graph, /*allow_unused=*/true);
        if (grads.empty() || !grads[0].defined()) continue;
        d = d + grads[0] * mask;
      }
    }
    out.g = create_graph ? g : g.detach();
    out.d = create_graph ? d : d.detach();
  }
  return out;
}

}  // namespace reference

namespace {

using reference::Evaluator;

at::Tensor philox_noise(at::IntArrayRef shape, const NoiseSource& source,
                        const at::Device& device) {
  if (shape.size() != 4) {
    throw std::invalid_argument("reference kernels: noise needs a [N, C, H, W] shape");
  }
  const std::int64_t samples = shape[0];
  const std::int64_t per_sample = shape[1] * shape[2] * shape[3];
  at::Tensor ids;
  if (source.sample_ids.defined()) {
    ids = source.sample_ids.to(at::kCPU, at::kLong).contiguous();
    if (ids.dim() != 1 || ids.size(0) != samples) {
      throw std::invalid_argument("reference kernels: sample_ids must be int64 [N]");
    }
  }
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
  float* data = out.data_ptr<float>();
  const std::int64_t* id_data = ids.defined() ? ids.data_ptr<std::int64_t>() : nullptr;
  at::parallel_for(0, samples, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t n = begin; n < end; ++n) {
      const auto id = static_cast<unsigned long long>(id_data != nullptr ? id_data[n] : n);
      float* dst = data + n * per_sample;
      for (std::int64_t block = 0; block * 4 < per_sample; ++block) {
        float z[4];
        spdec_gaussian4(source.seed, id, source.step, static_cast<unsigned int>(block), z);
        const std::int64_t count = std::min<std::int64_t>(4, per_sample - block * 4);
        std::copy(z, z + count, dst + block * 4);
      }
    }
  });
  return out.to(device);
}

class ReferenceKernels final : public ProcessKernels {
 public:
  ReferenceKernels(std::shared_ptr<const lang::Process> process,
                   std::shared_ptr<const codegen::StencilProgram> program, KernelsOptions options)
      : process_(std::move(process)), program_(std::move(program)), options_(options) {
    if (!process_ || !program_) {
      throw std::invalid_argument("make_reference_kernels: a process and its program are needed");
    }
  }

  [[nodiscard]] std::string backend() const override { return "reference"; }

  [[nodiscard]] at::Tensor drift(const at::Tensor& u, const at::Tensor& u0, double t) override {
    Evaluator evaluator(program(), u, u0, params(t));
    return evaluator.full(program().drift.general);
  }

  [[nodiscard]] at::Tensor diffusion(const at::Tensor& u, const at::Tensor& u0, double t) override {
    Evaluator evaluator(program(), u, u0, params(t));
    return evaluator.full(program().diffusion.general);
  }

  [[nodiscard]] at::Tensor div_sigma(const at::Tensor& u, const at::Tensor& u0, double t,
                                     const at::Tensor& qdiag) override {
    const auto [g, d] = reference::diffusion_derivative(program(), u, u0, params(t));
    return div_sigma_of(g, d, qdiag);
  }

  [[nodiscard]] at::Tensor noise(at::IntArrayRef shape, const NoiseSource& source,
                                 const at::Device& device) override {
    return philox_noise(shape, source, device);
  }

  [[nodiscard]] at::Tensor forward_step(const at::Tensor& u, const at::Tensor& u0, double t,
                                        double dt, const NoiseSource& noise) override {
    Evaluator evaluator(program(), u, u0, params(t));
    const at::Tensor b = evaluator.full(program().drift.general);
    const at::Tensor g = evaluator.full(program().diffusion.general);
    const at::Tensor zeta = noise_for(u, noise);
    const at::Tensor sqrt_dt = evaluator.scalar(std::sqrt(dt));
    return u + step_scale(evaluator, b, dt) * b + g * sqrt_dt * zeta;
  }

  [[nodiscard]] at::Tensor flow_steps(const at::Tensor& u, const at::Tensor& u0, double t,
                                      double dt, std::int64_t steps,
                                      at::Tensor* variance) override {
    reference::check_state(u);
    if (steps < 0) throw std::invalid_argument("reference kernels: flow_steps: steps < 0");
    if (variance != nullptr && (!variance->defined() || variance->sizes() != u.sizes())) {
      throw std::invalid_argument("reference kernels: flow_steps: variance must be shaped like u");
    }
    at::Tensor state = u;
    for (std::int64_t k = 0; k < steps; ++k) {
      Evaluator evaluator(program(), state, u0, params(t + static_cast<double>(k) * dt));
      const at::Tensor b = evaluator.full(program().drift.general);
      if (variance != nullptr) evaluator.variance_step(*variance, dt);
      state = state + step_scale(evaluator, b, dt) * b;
    }
    return steps == 0 ? u.clone() : state;
  }

  /// The lagged operator fed.lagged (not the kernels' hoisted form), step
  /// by step: the oracle of the compiled fed_steps.
  [[nodiscard]] at::Tensor fed_steps(const at::Tensor& u, const at::Tensor& frozen,
                                     const at::Tensor& u0, const FedCycle& cycle,
                                     at::Tensor* variance) override {
    reference::check_state(u);
    if (!program().fed.available) {
      throw std::invalid_argument("reference kernels: process " + program().process_name +
                                  " has no FED operator: " + program().fed.refusal);
    }
    if (variance != nullptr && (!variance->defined() || variance->sizes() != u.sizes())) {
      throw std::invalid_argument("reference kernels: fed_steps: variance must be shaped like u");
    }
    if (frozen.defined() && frozen.sizes() != u.sizes()) {
      throw std::invalid_argument("reference kernels: fed_steps: frozen must be shaped like u");
    }
    if (cycle.taus.empty()) return u.clone();
    const FedParams host = fed_host_params(*process_, program(), cycle, options_.knots);
    const at::Tensor v = frozen.defined() ? frozen : u;
    at::Tensor state = u;
    for (std::size_t k = 0; k < cycle.taus.size(); ++k) {
      // The step size as the kernels see it: rounded to float.
      const double tau = static_cast<float>(cycle.taus[k]);
      Evaluator op(program(), state, u0, host.op, v);
      const at::Tensor au = op.full(program().fed.lagged.general);
      if (variance != nullptr) {
        Evaluator at_step(program(), state, u0, host.steps[k]);
        at_step.variance_step(*variance, tau);
      }
      state = state + op.scalar(tau) * au;
    }
    return state;
  }

  [[nodiscard]] at::Tensor reverse_step(const at::Tensor& u, const at::Tensor& u0, double t,
                                        double dt, const at::Tensor& score_term,
                                        const at::Tensor& qdiag,
                                        const NoiseSource& noise) override {
    const std::vector<double> p = params(t);
    const auto [g, d] = reference::diffusion_derivative(program(), u, u0, p);
    Evaluator evaluator(program(), u, u0, p);
    const at::Tensor b = evaluator.full(program().drift.general);
    const at::Tensor pull = pull_of(g, d, qdiag, score_term, u);
    const at::Tensor zeta = noise_for(u, noise);
    const at::Tensor dt_t = evaluator.scalar(dt);
    const at::Tensor sqrt_dt = evaluator.scalar(std::sqrt(dt));
    return u - step_scale(evaluator, b, dt) * b + dt_t * pull + g * sqrt_dt * zeta;
  }

  [[nodiscard]] at::Tensor ode_velocity(const at::Tensor& u, const at::Tensor& u0, double t,
                                        double dt, const at::Tensor& score_term,
                                        const at::Tensor& qdiag) override {
    const std::vector<double> p = params(t);
    const auto [g, d] = reference::diffusion_derivative(program(), u, u0, p);
    Evaluator evaluator(program(), u, u0, p);
    const at::Tensor b = evaluator.full(program().drift.general);
    const at::Tensor pull = pull_of(g, d, qdiag, score_term, u);
    const at::Tensor dt_t = evaluator.scalar(dt);
    const at::Tensor half = evaluator.scalar(0.5);
    return (step_scale(evaluator, b, dt) / dt_t) * b - half * pull;
  }

 private:
  [[nodiscard]] const codegen::StencilProgram& program() const { return *program_; }

  [[nodiscard]] std::vector<double> params(double t) const {
    return host_params(*process_, *program_, t, options_.knots);
  }

  /// Δt / (1 + Δt ‖b‖^γ) per sample ([N, 1, 1, 1]), or Δt untamed. ‖b‖² is
  /// summed in double and rounded to the state's dtype, as the kernels do.
  /// ‖b‖^γ at b = 0 is 0^γ with a zero gradient (‖·‖ has none there).
  [[nodiscard]] at::Tensor step_scale(const Evaluator& evaluator, const at::Tensor& b,
                                      double dt) const {
    const at::Tensor dt_t = evaluator.scalar(dt);
    if (!program().taming) return dt_t;
    const double gamma = *program().taming;
    const at::Tensor sum =
        b.to(at::kDouble).square().sum({1, 2, 3}, /*keepdim=*/true).to(b.scalar_type());
    const at::Tensor positive = sum > 0;
    const at::Tensor safe = at::where(positive, sum, at::ones_like(sum));
    const at::Tensor power = at::where(
        positive, at::pow(at::sqrt(safe), gamma),
        evaluator.scalar(b.scalar_type() == at::kFloat
                             ? static_cast<double>(std::pow(0.0F, static_cast<float>(gamma)))
                             : std::pow(0.0, gamma)));
    const at::Tensor one = evaluator.scalar(1.0);
    return dt_t / (one + dt_t * power);
  }

  /// 2 g d q with q = diag(Q) ([H, W], undefined = 1).
  [[nodiscard]] static at::Tensor div_sigma_of(const at::Tensor& g, const at::Tensor& d,
                                               const at::Tensor& qdiag) {
    const at::Tensor two_g_d = 2.0 * g * d;
    if (!qdiag.defined()) return two_g_d;
    if (qdiag.dim() != 2 || qdiag.size(0) != g.size(2) || qdiag.size(1) != g.size(3)) {
      throw std::invalid_argument("reference kernels: qdiag must be [H, W]");
    }
    return two_g_d * qdiag.to(g.device(), g.scalar_type());
  }

  /// div Σ + Σ s, with Σ s = g² s when Q = I, else g · score_term.
  [[nodiscard]] at::Tensor pull_of(const at::Tensor& g, const at::Tensor& d,
                                   const at::Tensor& qdiag, const at::Tensor& score_term,
                                   const at::Tensor& u) const {
    if (!score_term.defined() || score_term.sizes() != u.sizes()) {
      throw std::invalid_argument("reference kernels: score_term must be shaped like u");
    }
    const at::Tensor s = score_term.to(u.device(), u.scalar_type());
    const at::Tensor sigma_score = program().noise_identity ? g * g * s : g * s;
    return div_sigma_of(g, d, qdiag) + sigma_score;
  }

  /// ζ: the given correlated noise, or the white Philox stream (Q = I only).
  [[nodiscard]] at::Tensor noise_for(const at::Tensor& u, const NoiseSource& source) const {
    if (source.correlated.defined()) {
      if (source.correlated.sizes() != u.sizes()) {
        throw std::invalid_argument("reference kernels: correlated noise must be shaped like u");
      }
      return source.correlated.to(u.device(), u.scalar_type());
    }
    if (!program().noise_identity) {
      throw std::invalid_argument(
          "reference kernels: process " + program().process_name +
          " has correlated noise (Q != I): a stochastic step needs NoiseSource::correlated");
    }
    return philox_noise(u.sizes(), source, u.device()).to(u.scalar_type());
  }

  std::shared_ptr<const lang::Process> process_;
  std::shared_ptr<const codegen::StencilProgram> program_;
  KernelsOptions options_;
};

}  // namespace

std::unique_ptr<ProcessKernels> make_reference_kernels(
    std::shared_ptr<const lang::Process> process,
    std::shared_ptr<const codegen::StencilProgram> program, KernelsOptions options) {
  return std::make_unique<ReferenceKernels>(std::move(process), std::move(program), options);
}

}  // namespace spdec::runtime
