// The reference evaluator's building blocks (runtime/kernels/reference_kernels.cpp),
// for tests and tools: the IR of a StencilProgram evaluated with LibTorch
// tensor ops. make_reference_kernels() (process_kernels.hpp) is built on them.
//
// Every node becomes a tensor broadcastable to the state's [N, C, H, W]:
// loads are the fields, coordinates [1, 1, H, W], constants and params
// 0-dim tensors, at(e, di, dj) the tensor of e shifted with the ghost rule
// (index clamp, wrap, or the Dirichlet ghost value outside the grid — so
// chains compose through the rule exactly as codegen/ir.hpp defines), and
// channel_sum(e) the sum of e over dim 1 (inside a channel_sum every load
// reads the summed channel, so e's tensor is the same as outside). The
// computation is in the state's dtype (float32 for the kernels; float64 is
// accepted for tests) and differentiable.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "codegen/program.hpp"

namespace spdec::runtime::reference {

/// The general form of `root` on the state u ([N, C, H, W], float or double)
/// with the initial state u0 (undefined unless the root reads it) and the
/// host params of the step (host_params()). Broadcastable to u's shape, not
/// necessarily of that shape (a constant root is a 0-dim tensor). Throws
/// std::invalid_argument for bad inputs and std::logic_error for an
/// `indicator` (it only occurs in diffusion_du, which is not evaluated: see
/// diffusion_derivative()).
[[nodiscard]] at::Tensor evaluate(const codegen::StencilProgram& program, codegen::NodeId root,
                                  const at::Tensor& u, const at::Tensor& u0,
                                  const std::vector<double>& params);

/// The stencil reach of `root` per axis: the largest Σ|di| (resp. Σ|dj|)
/// along a chain of `at` nodes. The value at pixel p depends only on the
/// fields within that distance of p (periodic: on the torus).
struct Reach {
  std::int32_t x = 0;
  std::int32_t y = 0;
};
[[nodiscard]] Reach reach(const codegen::Graph& graph, codegen::NodeId root);

/// The diffusion coefficient g and d = ∂gᵢ/∂uᵢ (same pixel and channel),
/// both [N, C, H, W]. d is the exact diagonal of the Jacobian of g(u), got
/// by autograd with a colouring (see reference_kernels.cpp), not by the
/// symbolic diffusion_du root. Differentiable (create_graph) when grad mode
/// is on and u or u0 requires grad; works under NoGradGuard and
/// InferenceMode too (it enables autograd locally).
struct DiffusionDerivative {
  at::Tensor g;
  at::Tensor d;
};
[[nodiscard]] DiffusionDerivative diffusion_derivative(const codegen::StencilProgram& program,
                                                       const at::Tensor& u, const at::Tensor& u0,
                                                       const std::vector<double>& params);

/// The number of colour classes per axis used by diffusion_derivative for
/// an axis of `size` pixels and reach `r`: pixels of one class are more than
/// r apart (on the torus when periodic).
[[nodiscard]] std::int64_t colours(std::int64_t size, std::int32_t r, bool periodic);

}  // namespace spdec::runtime::reference
