// CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin): records of
// one label byte (0..9) and 3072 image bytes, 3 × 32 × 32 channel-major.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <vector>

#include "runtime/config/choices.hpp"

namespace spdec::runtime {

inline constexpr std::int64_t kCifarRecordBytes = 1 + 3 * 32 * 32;

struct LabelledImages {
  at::Tensor images;  ///< uint8 [N, C, H, W]
  at::Tensor labels;  ///< int64 [N]
};

/// One batch file. A size that is not a positive multiple of 3073 bytes, or a
/// label outside 0..9, is a DataError naming the file.
LabelledImages read_cifar10_batch(const std::filesystem::path& file);

/// The batch files of a split in a CIFAR-10 folder (`dir`, or its
/// `cifar-10-batches-bin` subfolder): data_batch_1..5.bin for train,
/// test_batch.bin for test. A missing file is a DataError naming it.
std::vector<std::filesystem::path> cifar10_split_files(const std::filesystem::path& dir,
                                                       config::Split split);

/// The split's batches, concatenated in file order.
LabelledImages read_cifar10(const std::filesystem::path& dir, config::Split split);

}  // namespace spdec::runtime
