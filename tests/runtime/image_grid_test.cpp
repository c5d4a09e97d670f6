// PNG image grids with labels (issue 4): written, read back with stb_image,
// sizes and pixels checked; the 5×7 font draws what its table says.
#include "runtime/data/image_grid.hpp"

#include <stb_image.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "runtime/data/image_folder.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace spdec::runtime;

namespace {

fs::path temp_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("spdec-image-test-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

struct Png {
  int w = 0, h = 0, c = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels{nullptr, stbi_image_free};
  [[nodiscard]] int at(int x, int y, int ch = 0) const {
    return pixels.get()[(y * w + x) * c + ch];
  }
};

Png load(const fs::path& file) {
  Png png;
  png.pixels.reset(stbi_load(file.c_str(), &png.w, &png.h, &png.c, 0));
  REQUIRE(png.pixels);
  return png;
}

}  // namespace

TEST_CASE("image grid: PNG of the right size and pixel values", "[runtime][image]") {
  spdec::test::torch_setup();
  const fs::path dir = temp_dir("grid");
  // Five 4×5 grey images, image i constant at value v_i = −1 + i/2 ([-1, 1]).
  at::Tensor images = at::empty({5, 1, 4, 5}, spdec::test::f32());
  for (int i = 0; i < 5; ++i) images[i].fill_(-1.0 + 0.5 * i);
  save_image_grid(dir / "g.png", images, 2, 3, 1);
  const Png png = load(dir / "g.png");
  CHECK(png.c == 1);
  CHECK(png.w == 3 * 5 + 4 * 1);
  CHECK(png.h == 2 * 4 + 3 * 1);
  const int expected[] = {0, 64, 128, 191, 255};  // round(255 (v + 1) / 2)
  for (int i = 0; i < 5; ++i) {
    const int x0 = 1 + (i % 3) * 6;
    const int y0 = 1 + (i / 3) * 5;
    INFO("image " << i);
    CHECK(png.at(x0, y0) == expected[i]);
    CHECK(png.at(x0 + 4, y0 + 3) == expected[i]);
  }
  CHECK(png.at(0, 0) == 255);    // padding: the white background
  CHECK(png.at(18, 10) == 255);  // the sixth, empty cell
  CHECK(png.at(1 + 2 * 6, 1 + 5) == 255);

  // RGB in [0, 1], default layout (ceil(sqrt(4)) = 2 columns).
  GridOptions options;
  options.range = ValueRange::zero_one;
  options.padding = 0;
  at::Tensor rgb = at::zeros({4, 3, 2, 2}, spdec::test::f32());
  rgb.select(1, 0).fill_(1.0);  // red
  rgb[3].select(0, 2).fill_(0.5);
  save_image_grid(dir / "rgb.png", rgb, options);
  const Png colour = load(dir / "rgb.png");
  CHECK(colour.c == 3);
  CHECK(colour.w == 4);
  CHECK(colour.h == 4);
  CHECK(colour.at(0, 0, 0) == 255);
  CHECK(colour.at(0, 0, 1) == 0);
  CHECK(colour.at(3, 3, 2) == 128);
  // Read back through the image-folder reader as well (the same decoder).
  CHECK(read_image(dir / "rgb.png", 3).sizes() == at::IntArrayRef({3, 4, 4}));
  fs::remove_all(dir);
}

TEST_CASE("image grid: row and column labels in the 5x7 font", "[runtime][image]") {
  spdec::test::torch_setup();
  // The glyph of '1' drawn at (1, 2) on a black canvas is the table's bitmap.
  at::Tensor canvas = at::zeros({1, 10, 8}, at::TensorOptions().dtype(at::kByte));
  draw_text(canvas, "1", 1, 2, 255);
  const char* one[] = {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."};
  for (int r = 0; r < 7; ++r) {
    for (int c = 0; c < 5; ++c) {
      INFO("row " << r << " col " << c);
      CHECK(canvas[0][2 + r][1 + c].item<int>() == (one[r][c] == '#' ? 255 : 0));
    }
  }
  CHECK(canvas.sum().item<std::int64_t>() == 10 * 255);  // nothing outside the glyph
  CHECK(text_width("t=0.25") == 35);
  // Lower case is drawn as capitals; unknown characters as '?'.
  at::Tensor a = at::zeros({1, 7, 5}, at::TensorOptions().dtype(at::kByte));
  at::Tensor b = a.clone();
  draw_text(a, "t", 0, 0, 1);
  draw_text(b, "T", 0, 0, 1);
  CHECK(a.equal(b));
  a.zero_();
  b.zero_();
  draw_text(a, "~", 0, 0, 1);
  draw_text(b, "?", 0, 0, 1);
  CHECK(a.equal(b));
  CHECK(a.sum().item<std::int64_t>() > 0);

  const fs::path dir = temp_dir("labels");
  GridOptions options;
  options.rows = 2;
  options.cols = 3;
  options.padding = 2;
  options.row_labels = {"x0", "pm"};
  options.col_labels = {"t=0", "t=0.5", "t=1"};
  const at::Tensor images = at::full({6, 1, 20, 30}, -1.0, spdec::test::f32());  // black
  save_image_grid(dir / "labelled.png", images, options);
  const Png png = load(dir / "labelled.png");
  const int left = static_cast<int>(text_width("x0")) + 2;  // 13
  const int top = 7 + 2;
  CHECK(png.w == left + 3 * 30 + 4 * 2);
  CHECK(png.h == top + 2 * 20 + 3 * 2);
  // Ink (black) in the label strips, white elsewhere in them.
  int ink_top = 0;
  for (int y = 0; y < top; ++y) {
    for (int x = 0; x < png.w; ++x) ink_top += png.at(x, y) == 0;
  }
  int ink_left = 0;
  for (int y = top; y < png.h; ++y) {
    for (int x = 0; x < left; ++x) ink_left += png.at(x, y) == 0;
  }
  CHECK(ink_top > 30);
  CHECK(ink_left > 20);
  CHECK(png.at(left + 2, top + 2) == 0);  // the first image
  CHECK(png.at(0, top + 1) == 255);
  CHECK_THROWS_AS(make_image_grid(images,
                                  [] {
                                    GridOptions bad;
                                    bad.cols = 3;
                                    bad.col_labels = {"a"};
                                    return bad;
                                  }()),
                  std::invalid_argument);
  fs::remove_all(dir);
}
