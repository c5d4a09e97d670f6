// IDX files (the MNIST / Fashion-MNIST format): a big-endian header — magic
// 0x0000_08_RR (unsigned bytes, rank RR), then RR u32 dimensions — and the
// bytes in C order. Plain, or gzip-compressed when the name ends in `.gz`.
//
// A corrupt header cannot make the reader allocate absurd amounts of memory:
// a plain file's sizes are checked against its length before anything is
// read, and a `.gz` file is inflated in chunks, failing as soon as it runs
// short. Every error is a DataError naming the file and the problem.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <vector>

namespace spdec::runtime {

inline constexpr std::uint32_t kIdxImagesMagic = 0x00000803;  ///< u8 [n, rows, cols]
inline constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;  ///< u8 [n]

struct IdxArray {
  std::uint32_t magic = 0;
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> data;  ///< product(dims) bytes, C order
};

/// Any unsigned-byte IDX file (rank 1 to 4); `.gz` names are inflated.
IdxArray read_idx(const std::filesystem::path& file);

/// An IDX image file (magic 0x803) as uint8 [n, 1, rows, cols].
at::Tensor read_idx_images(const std::filesystem::path& file);

/// An IDX label file (magic 0x801) as int64 [n].
at::Tensor read_idx_labels(const std::filesystem::path& file);

/// Writes an unsigned-byte IDX file of the given dimensions (gzip-compressed
/// when the name ends in `.gz`); for tests and tools. data.size() must equal
/// the product of dims.
void write_idx(const std::filesystem::path& file, const std::vector<std::int64_t>& dims,
               const std::vector<std::uint8_t>& data);

}  // namespace spdec::runtime
