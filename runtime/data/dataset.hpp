// Data sets in memory: images uint8 [N, C, H, W] and labels int64 [N], loaded
// from IDX (Fashion-MNIST, the embedded default), CIFAR-10 binary batches or
// a folder of images; brought to a size and channel count; mapped to floats
// in [-1, 1] or [0, 1]; flipped at random for augmentation.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/config/choices.hpp"

namespace spdec::runtime {

/// Where Debian's `dataset-fashion-mnist` puts Fashion-MNIST.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// minus_one_one: 0 → −1, 255 → 1 (the default); zero_one: 0 → 0, 255 → 1.
using config::Split;
using config::ValueRange;

enum class ResizeMode {
  pad,       ///< centred padding with the background when smaller, centred crop when larger
  bilinear,  ///< at::upsample_bilinear2d (half-pixel centres), rounded back to bytes
};

/// "pad" or "bilinear"; anything else throws std::invalid_argument.
ResizeMode parse_resize_mode(const std::string& text);

struct DatasetSpec {
  config::Dataset kind = config::Dataset::fashion_mnist;
  /// fashion_mnist: its folder (empty: kFashionMnistDir); idx: the image file;
  /// cifar10: the folder of binary batches; folder: the image folder.
  std::filesystem::path path;
  std::filesystem::path labels_path;  ///< idx only; empty: no labels (all −1)
  Split split = Split::train;         ///< fashion_mnist, cifar10
  int channels = 0;                   ///< 0: the data's own (folder: 3); else 1 or 3
  std::int64_t size = 0;              ///< 0: keep; else square size × size
  ResizeMode resize = ResizeMode::pad;
  std::uint8_t background = 0;  ///< padding value (bytes)
  ValueRange range = ValueRange::minus_one_one;
  bool flip = false;       ///< random horizontal flips in the batch loader
  std::int64_t limit = 0;  ///< keep the first `limit` images (0: all)
};

struct Dataset {
  /// uint8 [N, C, H, W]; or float32, the codes of a latent run
  /// (runtime/nn/latent_space.hpp), which to_float hands out as they are
  at::Tensor images;
  at::Tensor labels;  ///< int64 [N]; −1 where unlabelled
  ValueRange range = ValueRange::minus_one_one;
  bool flip = false;
  /// What loading passed over (a folder's non-image files), one line each,
  /// for the run's log: the loader has no log of its own.
  std::vector<std::string> notes;

  [[nodiscard]] std::int64_t size() const { return images.defined() ? images.size(0) : 0; }
  /// The images as float32 in the data set's range (or the given one).
  [[nodiscard]] at::Tensor to_float() const;
  [[nodiscard]] at::Tensor to_float(ValueRange range) const;
};

/// uint8 (or any integer type, 0..255) → float32 in `range`; floating-point
/// values (latent codes) are returned as float32 unchanged.
at::Tensor to_float(const at::Tensor& bytes, ValueRange range = ValueRange::minus_one_one);

/// Float images clamped to `range` (samples written as data).
at::Tensor clamp_to_range(const at::Tensor& values, ValueRange range);

/// float in `range` → uint8 (clamped, rounded): the inverse of to_float.
at::Tensor to_bytes(const at::Tensor& values, ValueRange range = ValueRange::minus_one_one);

/// uint8 [N, C, H, W] (or [C, H, W]) brought to height × width; see ResizeMode.
at::Tensor resize_or_pad(const at::Tensor& images, std::int64_t height, std::int64_t width,
                         ResizeMode mode = ResizeMode::pad, std::uint8_t background = 0);

/// [N, C, H, W] with C 1 or 3 → `channels` (1 → 3 by repetition, 3 → 1 by
/// ITU-R 601 luminance, as stb does).
at::Tensor convert_channels(const at::Tensor& images, int channels);

/// Flips each image of [N, C, H, W] horizontally where flip_mask (bool [N]) is set.
at::Tensor flip_where(const at::Tensor& images, const at::Tensor& flip_mask);

/// A bool [n] mask with each entry true with probability ½, from a
/// splitmix64 stream of `seed`: the same on every platform.
at::Tensor random_flip_mask(std::int64_t n, std::uint64_t seed);

/// Same-size [C, H, W] images → [N, C, H, W]; differing sizes are a
/// DataError naming `files[i]` (when given) of the first mismatch.
at::Tensor stack_images(const std::vector<at::Tensor>& images,
                        const std::vector<std::filesystem::path>& files = {});

/// Loads the data set the spec describes (every error a DataError naming the
/// file, or std::invalid_argument for a bad spec value).
Dataset load_dataset(const DatasetSpec& spec);

/// An IDX image file and its label file (the counts must agree: a mismatch
/// is a DataError naming the label file and the image file).
Dataset load_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels);

}  // namespace spdec::runtime
