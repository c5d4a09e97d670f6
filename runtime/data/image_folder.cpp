// stb_image's implementation lives in this translation unit (and only here).
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#include "runtime/data/image_folder.hpp"

#include <stb_image.h>

#include <algorithm>
#include <memory>
#include <string>

#include "runtime/base/data_error.hpp"

namespace spdec::runtime {

std::vector<std::filesystem::path> list_image_files(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw DataError(dir, "no such folder");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.front() == '.') continue;
    if (entry.is_regular_file(ec)) files.push_back(entry.path());
  }
  if (ec) throw DataError(dir, "cannot list: " + ec.message());
  if (files.empty()) throw DataError(dir, "the folder holds no image files");
  std::sort(files.begin(), files.end());
  return files;
}

at::Tensor read_image(const std::filesystem::path& file, int channels) {
  if (channels != 1 && channels != 3) {
    throw DataError(file, "channels must be 1 or 3, got " + std::to_string(channels));
  }
  int w = 0;
  int h = 0;
  int in_file = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load(file.c_str(), &w, &h, &in_file, channels), stbi_image_free);
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    throw DataError(file, std::string("not a readable image (PNG/JPEG): ") +
                              (reason != nullptr ? reason : "unknown reason"));
  }
  // stb gives H × W × C interleaved; the runtime wants C × H × W. clone, not
  // contiguous(): with one channel the permuted view already counts as
  // contiguous, and contiguous() would hand back stb's buffer, freed on return.
  return at::from_blob(pixels.get(), {h, w, channels}, at::TensorOptions().dtype(at::kByte))
      .permute({2, 0, 1})
      .clone(at::MemoryFormat::Contiguous);
}

std::vector<at::Tensor> read_image_folder(const std::filesystem::path& dir, int channels) {
  std::vector<at::Tensor> images;
  for (const auto& file : list_image_files(dir)) images.push_back(read_image(file, channels));
  return images;
}

}  // namespace spdec::runtime
