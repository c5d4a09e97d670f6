// Folders of images (PNG, JPEG, and whatever else stb_image reads), decoded
// with stb_image and converted to 1 (luminance) or 3 (RGB) channels.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <string>
#include <vector>

namespace spdec::runtime {

/// The file name extensions a folder data set reads (lower case, with the
/// dot): the formats stb_image decodes: PNG, JPEG, BMP, GIF (first frame),
/// TGA, PSD (composited), HDR (tone-mapped to 8 bits), PIC, PNM (PPM/PGM).
[[nodiscard]] const std::vector<std::string>& image_extensions();

/// Whether `file`'s extension (any case) is one of image_extensions().
[[nodiscard]] bool has_image_extension(const std::filesystem::path& file);

struct ImageFolderListing {
  std::vector<std::filesystem::path> files;    ///< images, sorted by name
  std::vector<std::filesystem::path> skipped;  ///< files without an image extension, sorted
  std::size_t folders = 0;                     ///< subfolders (not read)
};

/// The image files of `dir` by extension, sorted by name; hidden files
/// (".name") are left out silently, other files are listed as skipped (a
/// README beside the images must not abort a run). A missing folder or one
/// without image files is a DataError.
ImageFolderListing list_image_files(const std::filesystem::path& dir);

/// One line for the run's log about what list_image_files skipped, or ""
/// when it skipped nothing.
[[nodiscard]] std::string skipped_note(const ImageFolderListing& listing);

/// One image as uint8 [channels, H, W] (channels 1 or 3). A file stb cannot
/// decode (a text file, a truncated PNG) is a DataError naming it.
at::Tensor read_image(const std::filesystem::path& file, int channels);

/// Every image of the folder, in name order, each uint8 [channels, H, W]
/// (sizes may differ; see stack_images and resize_or_pad in dataset.hpp).
std::vector<at::Tensor> read_image_folder(const std::filesystem::path& dir, int channels);

}  // namespace spdec::runtime
