// Where an edit starts (SDEdit: "SDEdit: Guided Image Synthesis and Editing
// with Stochastic Differential Equations", Meng, He, Song, Song, Wu, Zhu &
// Ermon, 2022, arXiv 2108.01073): a guide image x (a stroke painting, a
// sketch) is pushed forward by the process to a time s, and the reverse
// sampler runs from s. Small s keeps x's layout and detail, s = T ignores x.
// Sample i starts from inputs[i mod N] with its own noise stream, so a batch
// of N·k samples holds k edits of every input, none depending on the batch.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "runtime/process/process_model.hpp"

namespace spdec::runtime {

/// X_s for samples `sample_ids` (int64 [n]): inputs[id mod N] ([N, C, H, W],
/// any device) pushed to time s ∈ (t₀, T] by the process's forward law with
/// the noise stream (seed, id); float32 [n, C, H, W] on `device`.
[[nodiscard]] at::Tensor edit_start(ProcessModel& model, const at::Tensor& inputs, double s,
                                    std::uint64_t seed, const at::Tensor& sample_ids,
                                    const at::Device& device);

/// The same on flow matching's path: (1 − s)·inputs[id mod N] + s·z, z the
/// samples' white noise [n, C, H, W] (s ∈ (0, 1]).
[[nodiscard]] at::Tensor flow_edit_start(const at::Tensor& inputs, const at::Tensor& sample_ids,
                                         double s, const at::Tensor& z);

}  // namespace spdec::runtime
