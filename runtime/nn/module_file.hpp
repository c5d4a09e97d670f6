// A network's file: its header fields (already in the archive), then its
// parameters and buffers, moved to the CPU so that the file loads on any
// device, written atomically (temporary file + rename) so that a crash never
// leaves half a file where a reader expects a network. The classifier's and
// the autoencoder's files are written this way.
#pragma once

#include <torch/nn/module.h>
#include <torch/serialize/output-archive.h>

#include <filesystem>
#include <sstream>

#include "runtime/base/atomic_write.hpp"

namespace spdec::runtime {

inline void save_module_file(const std::filesystem::path& file,
                             torch::serialize::OutputArchive& archive, torch::nn::Module& net) {
  net.to(at::kCPU);
  net.save(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomically(file, bytes.str());
}

}  // namespace spdec::runtime
