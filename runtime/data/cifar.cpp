#include "runtime/data/cifar.hpp"

#include <fstream>
#include <string>

#include "runtime/base/data_error.hpp"

namespace spdec::runtime {

LabelledImages read_cifar10_batch(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) throw DataError(file, "no such file");
  const auto length = static_cast<std::int64_t>(std::filesystem::file_size(file, ec));
  if (ec) throw DataError(file, "cannot read its size: " + ec.message());
  if (length == 0 || length % kCifarRecordBytes != 0) {
    throw DataError(file, "size " + std::to_string(length) +
                              " bytes is not a positive multiple of the CIFAR-10 record size " +
                              std::to_string(kCifarRecordBytes) + " (1 label + 3x32x32 bytes)");
  }
  const std::int64_t n = length / kCifarRecordBytes;
  at::Tensor records = at::empty({n, kCifarRecordBytes}, at::TensorOptions().dtype(at::kByte));
  std::ifstream in(file, std::ios::binary);
  in.read(reinterpret_cast<char*>(records.data_ptr<std::uint8_t>()),
          static_cast<std::streamsize>(length));
  if (!in || in.gcount() != length) throw DataError(file, "read error");
  LabelledImages out;
  out.labels = records.select(1, 0).to(at::kLong);
  const std::int64_t bad = out.labels.gt(9).nonzero().numel();
  if (bad > 0) {
    const std::int64_t first = out.labels.gt(9).nonzero()[0][0].item<std::int64_t>();
    throw DataError(file, "record " + std::to_string(first) + " has label " +
                              std::to_string(out.labels[first].item<std::int64_t>()) +
                              ", not in 0..9 (" + std::to_string(bad) + " such records)");
  }
  out.images = records.narrow(1, 1, 3 * 32 * 32).reshape({n, 3, 32, 32}).contiguous();
  return out;
}

std::vector<std::filesystem::path> cifar10_split_files(const std::filesystem::path& dir,
                                                       config::Split split) {
  std::filesystem::path root = dir;
  std::error_code ec;
  if (std::filesystem::is_directory(dir / "cifar-10-batches-bin", ec)) {
    root = dir / "cifar-10-batches-bin";
  }
  std::vector<std::filesystem::path> files;
  if (split == config::Split::train) {
    for (int i = 1; i <= 5; ++i)
      files.push_back(root / ("data_batch_" + std::to_string(i) + ".bin"));
  } else {
    files.push_back(root / "test_batch.bin");
  }
  for (const auto& file : files) {
    if (!std::filesystem::is_regular_file(file, ec)) {
      throw DataError(file, "no such file (a CIFAR-10 binary batch of the " +
                                std::string(config::name(split)) + " split)");
    }
  }
  return files;
}

LabelledImages read_cifar10(const std::filesystem::path& dir, config::Split split) {
  std::vector<at::Tensor> images;
  std::vector<at::Tensor> labels;
  for (const auto& file : cifar10_split_files(dir, split)) {
    LabelledImages batch = read_cifar10_batch(file);
    images.push_back(batch.images);
    labels.push_back(batch.labels);
  }
  return {at::cat(images), at::cat(labels)};
}

}  // namespace spdec::runtime
