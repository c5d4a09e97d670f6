// NumPy .npy files (format version 1.0, numpy/lib/format.py): the magic
// "\x93NUMPY", version 1 0, a little-endian u16 header length, then the header
// — a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape':
// (2, 3), } padded with spaces and ended by '\n' so that 10 + header length
// is a multiple of 64 — and the data in C order.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace spdec::runtime {

/// The whole preamble (magic, version, length and padded header) of a
/// version-1.0, C-order array of `descr` (e.g. "<f4") and `shape`.
std::string npy_preamble(const std::vector<std::int64_t>& shape, const std::string& descr = "<f4");

/// Writes `tensor` (any floating type, converted to float32; any device) as
/// '<f4', C order, atomically (temporary file + rename).
void write_npy(const std::filesystem::path& file, const at::Tensor& tensor);

/// Reads a C-order .npy file (versions 1.0, 2.0 and 3.0) of '<f4', '<f8',
/// '|u1', '<i4' or '<i8' into a CPU tensor of that type. Anything else — a
/// bad magic, Fortran order, a truncated file — is a DataError naming it.
at::Tensor read_npy(const std::filesystem::path& file);

}  // namespace spdec::runtime
