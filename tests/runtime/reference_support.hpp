// Helpers of the reference evaluator's tests (reference_*_test.cpp): a
// process from a few statements, lowered, with its reference kernels; grids
// of coordinates; shifted copies with the ghost rules written out directly
// from specs/LANGUAGE.md §12 (independent of the evaluator's own code).
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "codegen/pipeline.hpp"
#include "runtime/kernels/process_kernels.hpp"
#include "test_support.hpp"

namespace spdec::test {

/// A process, its program and its reference kernels.
struct Reference {
  std::shared_ptr<const lang::Process> process;
  std::shared_ptr<const codegen::StencilProgram> program;
  std::unique_ptr<runtime::ProcessKernels> kernels;
};

inline Reference reference_of(lang::Process checked) {
  Reference r;
  r.process = std::make_shared<const lang::Process>(std::move(checked));
  r.program = std::make_shared<const codegen::StencilProgram>(codegen::build_program(*r.process));
  r.kernels = runtime::make_reference_kernels(r.process, r.program);
  return r;
}

/// `process test` with the given statements; `time T = 1, dt = 1e-3` unless
/// they have a time statement, `diffusion = 0` unless they have a diffusion.
inline Reference reference_from(const std::string& statements) {
  std::string text = "process test\n" + statements + "\n";
  if (statements.find("diffusion") == std::string::npos) text += "diffusion = 0\n";
  if (statements.find("time ") == std::string::npos) text += "time T = 1, dt = 1e-3\n";
  return reference_of(check_process(text));
}

/// The column index x and the row index y of an H × W grid, [1, 1, H, W].
inline at::Tensor grid_x(std::int64_t h, std::int64_t w) {
  return at::arange(w, f64()).view({1, 1, 1, w}).expand({1, 1, h, w}).contiguous();
}
inline at::Tensor grid_y(std::int64_t h, std::int64_t w) {
  return at::arange(h, f64()).view({1, 1, h, 1}).expand({1, 1, h, w}).contiguous();
}

enum class Ghost { neumann, periodic, dirichlet };

/// e[..., j + dj, i + di] at every (i, j) with the ghost rule (Dirichlet:
/// the constant v outside the grid). Written with explicit index arithmetic.
inline at::Tensor shifted(const at::Tensor& e, std::int64_t di, std::int64_t dj, Ghost ghost,
                          double v = 0.0) {
  const std::int64_t h = e.size(-2);
  const std::int64_t w = e.size(-1);
  at::Tensor out = at::empty_like(e);
  const at::Tensor flat_e = e.reshape({-1, h, w});
  at::Tensor flat_out = out.view({-1, h, w});
  for (std::int64_t j = 0; j < h; ++j) {
    for (std::int64_t i = 0; i < w; ++i) {
      std::int64_t si = i + di;
      std::int64_t sj = j + dj;
      const bool inside = si >= 0 && si < w && sj >= 0 && sj < h;
      if (ghost == Ghost::dirichlet && !inside) {
        flat_out.select(1, j).select(1, i).fill_(v);
        continue;
      }
      if (ghost == Ghost::periodic) {
        si = ((si % w) + w) % w;
        sj = ((sj % h) + h) % h;
      } else {
        si = std::clamp<std::int64_t>(si, 0, w - 1);
        sj = std::clamp<std::int64_t>(sj, 0, h - 1);
      }
      flat_out.select(1, j).select(1, i).copy_(flat_e.select(1, sj).select(1, si));
    }
  }
  return out;
}

/// The five-point Laplacian with the ghost rule, from shifted copies.
inline at::Tensor laplacian(const at::Tensor& e, Ghost ghost, double v = 0.0) {
  return shifted(e, 1, 0, ghost, v) + shifted(e, -1, 0, ghost, v) + shifted(e, 0, 1, ghost, v) +
         shifted(e, 0, -1, ghost, v) - 4.0 * e;
}

/// The statement of a boundary rule.
inline std::string boundary_statement(Ghost ghost, double v = 0.0) {
  switch (ghost) {
    case Ghost::neumann:
      return "boundary neumann";
    case Ghost::periodic:
      return "boundary periodic";
    case Ghost::dirichlet:
      return "boundary dirichlet " + std::to_string(v);
  }
  return "";
}

inline const char* name(Ghost ghost) {
  switch (ghost) {
    case Ghost::neumann:
      return "neumann";
    case Ghost::periodic:
      return "periodic";
    case Ghost::dirichlet:
      return "dirichlet";
  }
  return "?";
}

/// max |e| over all elements, in double.
inline double max_abs(const at::Tensor& e) { return e.abs().max().item<double>(); }

/// True when every element is finite.
inline bool all_finite(const at::Tensor& e) { return at::isfinite(e).all().item<bool>(); }

}  // namespace spdec::test
