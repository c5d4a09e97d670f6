// Writes a file atomically: the bytes go to a temporary file beside the target
// (same folder, so the same file system), which is then renamed over it. A
// reader sees the old file or the new one, never half of one.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "runtime/base/data_error.hpp"

namespace spdec::runtime {

inline void write_file_atomically(const std::filesystem::path& file, std::string_view bytes) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path temp = file;
  temp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw DataError(file, "cannot create " + temp.filename().string());
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temp, ignored);
      throw DataError(file, "write error");
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, file, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw DataError(file, "cannot rename the temporary file into place: " + ec.message());
  }
}

}  // namespace spdec::runtime
