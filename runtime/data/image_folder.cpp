// stb_image's implementation lives in this translation unit (and only here).
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#include "runtime/data/image_folder.hpp"

#include <stb_image.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>

#include "runtime/base/data_error.hpp"

namespace spdec::runtime {

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> extensions{".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga",
                                                   ".psd", ".hdr", ".pic",  ".pnm", ".ppm", ".pgm"};
  return extensions;
}

bool has_image_extension(const std::filesystem::path& file) {
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto& known = image_extensions();
  return std::find(known.begin(), known.end(), extension) != known.end();
}

ImageFolderListing list_image_files(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw DataError(dir, "no such folder");
  ImageFolderListing listing;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.front() == '.') continue;
    if (entry.is_directory(ec)) {
      ++listing.folders;
    } else if (entry.is_regular_file(ec)) {
      (has_image_extension(entry.path()) ? listing.files : listing.skipped).push_back(entry.path());
    }
  }
  if (ec) throw DataError(dir, "cannot list: " + ec.message());
  std::sort(listing.files.begin(), listing.files.end());
  std::sort(listing.skipped.begin(), listing.skipped.end());
  if (listing.files.empty()) {
    std::string extensions;
    for (const std::string& e : image_extensions())
      extensions += (extensions.empty() ? "" : " ") + e;
    const std::string note = skipped_note(listing);
    throw DataError(dir, "the folder holds no image files (by extension: " + extensions + ")" +
                             (note.empty() ? "" : "; " + note));
  }
  return listing;
}

std::string skipped_note(const ImageFolderListing& listing) {
  if (listing.skipped.empty() && listing.folders == 0) return {};
  std::string note;
  if (!listing.skipped.empty()) {
    // A few names are enough to recognise the stray files; all of them could be thousands.
    constexpr std::size_t kShown = 3;
    const std::size_t n = listing.skipped.size();
    note = "skipped " + std::to_string(n) + (n == 1 ? " file" : " files") +
           " without an image extension (";
    for (std::size_t i = 0; i < std::min(n, kShown); ++i) {
      note += (i == 0 ? "" : ", ") + listing.skipped[i].filename().string();
    }
    note += n > kShown ? ", ...)" : ")";
  }
  if (listing.folders > 0) {
    note += std::string(note.empty() ? "skipped " : " and ") + std::to_string(listing.folders) +
            (listing.folders == 1 ? " subfolder" : " subfolders") + " (a folder data set is flat)";
  }
  return note;
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
    throw DataError(file, std::string("not a readable image: ") +
                              (reason != nullptr ? reason : "unknown reason") +
                              " (damaged, or a variant stb_image does not decode: remove it from "
                              "the folder or save it again as PNG)");
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
  for (const auto& file : list_image_files(dir).files) images.push_back(read_image(file, channels));
  return images;
}

}  // namespace spdec::runtime
