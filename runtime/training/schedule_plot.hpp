// The learned schedules beside their init values, as a PNG: each learnable
// schedule's rate over [t0, T] on a log scale, learned solid, init dashed,
// one colour per schedule, and below them the ratio learned / init, where a
// change shows (written by `spdec run train` as run.dir/schedules.png).
#pragma once

#include <ATen/ATen.h>

#include <filesystem>

#include "runtime/training/learned_schedule.hpp"

namespace spdec::runtime {

/// The plot as uint8 [3, H, W].
[[nodiscard]] at::Tensor schedule_plot(const LearnedSchedules& schedules);

/// schedule_plot, written atomically as PNG.
void write_schedule_plot(const std::filesystem::path& file, const LearnedSchedules& schedules);

}  // namespace spdec::runtime
