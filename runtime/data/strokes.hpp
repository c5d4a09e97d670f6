// A deterministic stroke painting of an image, the guide SDEdit edits from
// when no hand-drawn input is at hand ("SDEdit: Guided Image Synthesis and
// Editing with Stochastic Differential Equations", Meng et al. 2022, arXiv
// 2108.01073, simulate strokes from real images by smoothing away detail and
// reducing the palette). Here: a median filter of odd width w (edges kept,
// texture removed), then each channel quantised to `levels` evenly spaced
// values of the data range (flat strokes of constant intensity).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "runtime/config/choices.hpp"

namespace spdec::runtime {

struct StrokeOptions {
  int width = 3;   ///< the median filter's odd width
  int levels = 4;  ///< values per channel, ≥ 2
  config::ValueRange range = config::ValueRange::minus_one_one;
};

/// The median filter's width for a side: about a tenth of it, odd, ≥ 3.
[[nodiscard]] int default_stroke_width(std::int64_t side);

/// Median of each w × w window (replicated borders), float [N, C, H, W].
[[nodiscard]] at::Tensor median_filter(const at::Tensor& images, int width);

/// Stroke paintings of float images [N, C, H, W] in options.range.
[[nodiscard]] at::Tensor stroke_painting(const at::Tensor& images, const StrokeOptions& options);

}  // namespace spdec::runtime
