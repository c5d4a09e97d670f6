// The runtime's atomic file write: lang::write_file_atomically (temporary file
// beside the target, fsync, rename; lang/atomic_write.hpp), with a failure
// thrown as the DataError that names the file.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "lang/atomic_write.hpp"
#include "runtime/base/data_error.hpp"

namespace spdec::runtime {

inline void write_file_atomically(const std::filesystem::path& file, std::string_view bytes) {
  if (const std::optional<lang::WriteFailure> failure = lang::write_file_atomically(file, bytes)) {
    throw DataError(failure->file, failure->problem);
  }
}

}  // namespace spdec::runtime
