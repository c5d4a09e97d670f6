// The error every data-set reader and image writer throws: its message names
// the file and what is wrong with it ("…/train-images-idx3-ubyte.gz: truncated:
// expected 47040000 image bytes, got 1024"), so a bad input is a clear message,
// never a crash.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace spdec::runtime {

class DataError : public std::runtime_error {
 public:
  DataError(const std::filesystem::path& file, const std::string& problem)
      : std::runtime_error(file.string() + ": " + problem), file_(file) {}

  [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }

 private:
  std::filesystem::path file_;
};

}  // namespace spdec::runtime
