// Image grids as PNG (stb_image_write): N images [N, C, H, W] laid out in rows
// × columns with padding, optionally with row and column labels (e.g. the
// times "t=0.25" of a forward strip) in a tiny built-in 5×7 bitmap font.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/data/dataset.hpp"

namespace spdec::runtime {

struct GridOptions {
  std::int64_t rows = 0;  ///< 0: enough for the images given cols
  std::int64_t cols = 0;  ///< 0: ceil(sqrt(N)) (or enough for the images given rows)
  std::int64_t padding = 2;
  ValueRange range = ValueRange::minus_one_one;  ///< of the float images (uint8 are taken as is)
  std::uint8_t background = 255;                 ///< padding and label margins
  std::vector<std::string> row_labels;           ///< empty, or one per row
  std::vector<std::string> col_labels;           ///< empty, or one per column
};

inline constexpr std::int64_t kGlyphWidth = 5;
inline constexpr std::int64_t kGlyphHeight = 7;

/// Pixels a label takes: 6 per character (a glyph and a gap) less the last gap.
std::int64_t text_width(const std::string& text);

/// Draws `text` into `canvas` (uint8 [C, H, W]) with its top-left corner at
/// (x, y), in `value` on every channel; clipped at the edges. The font has
/// digits, capitals (lower case is drawn as capitals), ' ', '.', ',', '=',
/// '-', '+', ':', '(', ')', '/', '_'; other characters are drawn as '?'.
void draw_text(at::Tensor& canvas, const std::string& text, std::int64_t x, std::int64_t y,
               std::uint8_t value);

/// The grid as uint8 [C, H, W] (C of the images: 1 or 3).
at::Tensor make_image_grid(const at::Tensor& images, const GridOptions& options = {});

/// Writes uint8 [C, H, W] (C = 1, 3 or 4) as PNG, atomically.
void write_png(const std::filesystem::path& file, const at::Tensor& image);

/// make_image_grid + write_png.
void save_image_grid(const std::filesystem::path& file, const at::Tensor& images,
                     const GridOptions& options = {});
void save_image_grid(const std::filesystem::path& file, const at::Tensor& images, std::int64_t rows,
                     std::int64_t cols, std::int64_t padding = 2);

}  // namespace spdec::runtime
