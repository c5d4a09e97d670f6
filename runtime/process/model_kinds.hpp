// The three process models behind make_process_model (process_model.hpp),
// one file each: linear_model.cpp, decoupled_model.cpp, sde_model.cpp.
#pragma once

#include <cstdint>
#include <memory>

#include "runtime/process/process_model.hpp"

namespace spdec::runtime {

[[nodiscard]] std::unique_ptr<ProcessModel> make_linear_model(
    std::shared_ptr<const lang::Process> process, std::unique_ptr<ProcessKernels> kernels,
    std::int64_t height, std::int64_t width, const KnotValues* knots);

[[nodiscard]] std::unique_ptr<ProcessModel> make_decoupled_model(
    std::shared_ptr<const lang::Process> process, std::unique_ptr<ProcessKernels> kernels,
    std::int64_t height, std::int64_t width, const KnotValues* knots, const ModelOptions& options);

[[nodiscard]] std::unique_ptr<ProcessModel> make_sde_model(
    std::shared_ptr<const lang::Process> process, std::unique_ptr<ProcessKernels> kernels,
    std::int64_t height, std::int64_t width);

/// Per-sample times in ascending order: the permutation that sorts them.
[[nodiscard]] at::Tensor ascending_order(std::span<const double> t);

}  // namespace spdec::runtime
