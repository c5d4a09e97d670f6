// Folders of images (PNG, JPEG, and whatever else stb_image reads), decoded
// with stb_image and converted to 1 (luminance) or 3 (RGB) channels.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <vector>

namespace spdec::runtime {

/// The regular files of `dir`, sorted by name; hidden files (".name") are
/// skipped. A missing folder or one without files is a DataError.
std::vector<std::filesystem::path> list_image_files(const std::filesystem::path& dir);

/// One image as uint8 [channels, H, W] (channels 1 or 3). A file stb cannot
/// decode (a text file, a truncated PNG) is a DataError naming it.
at::Tensor read_image(const std::filesystem::path& file, int channels);

/// Every image of the folder, in name order, each uint8 [channels, H, W]
/// (sizes may differ; see stack_images and resize_or_pad in dataset.hpp).
std::vector<at::Tensor> read_image_folder(const std::filesystem::path& dir, int channels);

}  // namespace spdec::runtime
