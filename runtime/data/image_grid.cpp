// stb_image_write's implementation lives in this translation unit (and only here).
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "runtime/data/image_grid.hpp"

#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include "runtime/base/atomic_write.hpp"
#include "runtime/base/data_error.hpp"

namespace spdec::runtime {
namespace {

struct Glyph {
  char c;
  std::array<std::uint8_t, kGlyphHeight> rows;  // 5 bits each, the most significant on the left
};

// A classic 5×7 font, only what labels need.
constexpr std::array<Glyph, 49> kFont = {{
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}},
    {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}},
    {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
    {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}},
    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
    {'*', {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00}},
}};

const Glyph& glyph(char c) {
  const char upper = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const Glyph& g : kFont) {
    if (g.c == upper) return g;
  }
  for (const Glyph& g : kFont) {
    if (g.c == '?') return g;
  }
  return kFont[0];
}

}  // namespace

std::int64_t text_width(const std::string& text) {
  return text.empty() ? 0 : static_cast<std::int64_t>(text.size()) * (kGlyphWidth + 1) - 1;
}

void draw_text(at::Tensor& canvas, const std::string& text, std::int64_t x, std::int64_t y,
               std::uint8_t value) {
  if (canvas.scalar_type() != at::kByte || canvas.dim() != 3 || !canvas.is_contiguous()) {
    throw std::invalid_argument("draw_text: the canvas must be contiguous uint8 [C, H, W]");
  }
  auto pixels = canvas.accessor<std::uint8_t, 3>();
  const std::int64_t channels = canvas.size(0);
  const std::int64_t height = canvas.size(1);
  const std::int64_t width = canvas.size(2);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const Glyph& g = glyph(text[i]);
    const std::int64_t left = x + static_cast<std::int64_t>(i) * (kGlyphWidth + 1);
    for (std::int64_t r = 0; r < kGlyphHeight; ++r) {
      for (std::int64_t c = 0; c < kGlyphWidth; ++c) {
        if (((g.rows[static_cast<std::size_t>(r)] >> (kGlyphWidth - 1 - c)) & 1U) == 0) continue;
        const std::int64_t px = left + c;
        const std::int64_t py = y + r;
        if (px < 0 || py < 0 || px >= width || py >= height) continue;
        for (std::int64_t ch = 0; ch < channels; ++ch) pixels[ch][py][px] = value;
      }
    }
  }
}

at::Tensor make_image_grid(const at::Tensor& images, const GridOptions& options) {
  if (!images.defined() || images.dim() != 4 || images.size(0) == 0) {
    throw std::invalid_argument("image grid: images must be [N, C, H, W] with N > 0");
  }
  const std::int64_t n = images.size(0);
  const std::int64_t c = images.size(1);
  const std::int64_t h = images.size(2);
  const std::int64_t w = images.size(3);
  if (c != 1 && c != 3) throw std::invalid_argument("image grid: 1 or 3 channels");
  std::int64_t rows = options.rows;
  std::int64_t cols = options.cols;
  if (rows <= 0 && cols <= 0)
    cols = static_cast<std::int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  if (cols <= 0) cols = (n + rows - 1) / rows;
  if (rows <= 0) rows = (n + cols - 1) / cols;
  if (rows * cols < n) {
    throw std::invalid_argument("image grid: " + std::to_string(rows) + " x " +
                                std::to_string(cols) + " cells for " + std::to_string(n) +
                                " images");
  }
  if (!options.row_labels.empty() && static_cast<std::int64_t>(options.row_labels.size()) != rows) {
    throw std::invalid_argument("image grid: " + std::to_string(options.row_labels.size()) +
                                " row labels for " + std::to_string(rows) + " rows");
  }
  if (!options.col_labels.empty() && static_cast<std::int64_t>(options.col_labels.size()) != cols) {
    throw std::invalid_argument("image grid: " + std::to_string(options.col_labels.size()) +
                                " column labels for " + std::to_string(cols) + " columns");
  }
  const std::int64_t pad = std::max<std::int64_t>(options.padding, 0);
  std::int64_t left = 0;
  for (const auto& label : options.row_labels) left = std::max(left, text_width(label) + 2);
  const std::int64_t top = options.col_labels.empty() ? 0 : kGlyphHeight + 2;

  const at::Tensor bytes = images.scalar_type() == at::kByte
                               ? images.to(at::kCPU)
                               : to_bytes(images.detach().to(at::kCPU), options.range);
  at::Tensor canvas =
      at::full({c, top + rows * h + (rows + 1) * pad, left + cols * w + (cols + 1) * pad},
               options.background, at::TensorOptions().dtype(at::kByte));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t y = top + pad + (i / cols) * (h + pad);
    const std::int64_t x = left + pad + (i % cols) * (w + pad);
    canvas.narrow(1, y, h).narrow(2, x, w).copy_(bytes[i]);
  }
  const std::uint8_t ink = options.background >= 128 ? 0 : 255;
  for (std::int64_t r = 0; r < static_cast<std::int64_t>(options.row_labels.size()); ++r) {
    draw_text(canvas, options.row_labels[static_cast<std::size_t>(r)], 1,
              top + pad + r * (h + pad) + (h - kGlyphHeight) / 2, ink);
  }
  for (std::int64_t k = 0; k < static_cast<std::int64_t>(options.col_labels.size()); ++k) {
    const std::string& label = options.col_labels[static_cast<std::size_t>(k)];
    const std::int64_t x = left + pad + k * (w + pad) + (w - text_width(label)) / 2;
    draw_text(canvas, label, std::max(x, left), 1, ink);
  }
  return canvas;
}

void write_png(const std::filesystem::path& file, const at::Tensor& image) {
  if (!image.defined() || image.dim() != 3 || image.scalar_type() != at::kByte ||
      (image.size(0) != 1 && image.size(0) != 3 && image.size(0) != 4)) {
    throw DataError(file, "write_png: the image must be uint8 [C, H, W] with C = 1, 3 or 4");
  }
  const at::Tensor hwc = image.to(at::kCPU).permute({1, 2, 0}).contiguous();
  const int h = static_cast<int>(hwc.size(0));
  const int w = static_cast<int>(hwc.size(1));
  const int c = static_cast<int>(hwc.size(2));
  std::string png;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<std::size_t>(size));
  };
  if (stbi_write_png_to_func(append, &png, w, h, c, hwc.data_ptr<std::uint8_t>(), w * c) == 0) {
    throw DataError(file, "PNG encoding failed");
  }
  write_file_atomically(file, png);
}

void save_image_grid(const std::filesystem::path& file, const at::Tensor& images,
                     const GridOptions& options) {
  write_png(file, make_image_grid(images, options));
}

void save_image_grid(const std::filesystem::path& file, const at::Tensor& images, std::int64_t rows,
                     std::int64_t cols, std::int64_t padding) {
  GridOptions options;
  options.rows = rows;
  options.cols = cols;
  options.padding = padding;
  save_image_grid(file, images, options);
}

}  // namespace spdec::runtime
