#include "runtime/data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <string>

#include "lang/os_reason.hpp"
#include "runtime/base/data_error.hpp"

namespace spdec::runtime {
namespace {

// Larger than any real data set (Fashion-MNIST train: 47 MB; ImageNet-sized
// IDX would be far below this) and small enough to catch a corrupt header.
constexpr std::int64_t kMaxIdxBytes = std::int64_t{1} << 36;

bool is_gz(const std::filesystem::path& file) { return file.extension() == ".gz"; }

std::string hex32(std::uint32_t v) {
  std::array<char, 16> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%08x", v);
  return buf.data();
}

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// A byte source: a plain file or a gzip stream. read() returns how many bytes
// it got (fewer only at the end of the data); errors throw.
class Source {
 public:
  explicit Source(std::filesystem::path file) : file_(std::move(file)) {
    std::error_code ec;
    if (!std::filesystem::exists(file_, ec)) throw DataError(file_, "no such file");
    if (!std::filesystem::is_regular_file(file_, ec)) throw DataError(file_, "not a regular file");
    if (is_gz(file_)) {
      gz_ = gzopen(file_.c_str(), "rb");
      if (gz_ == nullptr) throw DataError(file_, "cannot open (gzip): " + lang::os_reason());
    } else {
      plain_.open(file_, std::ios::binary);
      if (!plain_) throw DataError(file_, "cannot open: " + lang::os_reason());
      length_ = static_cast<std::int64_t>(std::filesystem::file_size(file_, ec));
      if (ec) throw DataError(file_, "cannot read its size: " + ec.message());
    }
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  ~Source() {
    if (gz_ != nullptr) gzclose(gz_);
  }

  /// The file's length for a plain file; -1 for gzip (unknown up front).
  [[nodiscard]] std::int64_t length() const { return length_; }

  std::int64_t read(std::uint8_t* out, std::int64_t n) {
    if (gz_ == nullptr) {
      plain_.read(reinterpret_cast<char*>(out), n);
      if (plain_.bad()) throw DataError(file_, "read error");
      return plain_.gcount();
    }
    std::int64_t got = 0;
    while (got < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::int64_t>(n - got, 1 << 24));
      const int r = gzread(gz_, out + got, chunk);
      if (r < 0) {
        int code = 0;
        const char* message = gzerror(gz_, &code);
        throw DataError(file_, std::string("corrupt gzip data: ") + message);
      }
      if (r == 0) break;
      got += r;
    }
    return got;
  }

  /// gzip's own complaint after a short read (e.g. "unexpected end of file"), if any.
  [[nodiscard]] std::string gz_problem() const {
    if (gz_ == nullptr) return {};
    int code = 0;
    const char* message = gzerror(gz_, &code);
    return code == Z_OK ? std::string() : std::string(" (gzip: ") + message + ")";
  }

 private:
  std::filesystem::path file_;
  std::ifstream plain_;
  gzFile gz_ = nullptr;
  std::int64_t length_ = -1;
};

}  // namespace

IdxArray read_idx(const std::filesystem::path& file) {
  Source source(file);
  std::array<std::uint8_t, 4> head{};
  if (source.read(head.data(), 4) != 4) {
    throw DataError(file, "truncated: shorter than the 4-byte IDX magic" + source.gz_problem());
  }
  IdxArray out;
  out.magic = big_endian_u32(head.data());
  const std::uint32_t rank = head[3];
  if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || rank < 1 || rank > 4) {
    throw DataError(file, "wrong magic " + hex32(out.magic) +
                              ": not an unsigned-byte IDX file (expected 0x0000080N, N = 1..4)");
  }
  std::vector<std::uint8_t> dim_bytes(4 * rank);
  if (source.read(dim_bytes.data(), static_cast<std::int64_t>(dim_bytes.size())) !=
      static_cast<std::int64_t>(dim_bytes.size())) {
    throw DataError(file, "truncated: the header ends inside its " + std::to_string(rank) +
                              " dimensions" + source.gz_problem());
  }
  std::int64_t total = 1;
  std::string shape;
  for (std::uint32_t d = 0; d < rank; ++d) {
    const std::int64_t n = big_endian_u32(dim_bytes.data() + 4 * d);
    out.dims.push_back(n);
    shape += (d ? " x " : "") + std::to_string(n);
    // Checked before multiplying: 2^32 × 2^36 would overflow.
    if (n != 0 && total > kMaxIdxBytes / n) {
      throw DataError(file, "absurd dimensions in the header (" + shape + "...): more than " +
                                std::to_string(kMaxIdxBytes) + " bytes");
    }
    total *= n;
  }
  const std::int64_t header = 4 + 4 * static_cast<std::int64_t>(rank);
  if (source.length() >= 0) {
    const std::int64_t have = source.length() - header;
    if (have < total) {
      throw DataError(file, "truncated: the header says " + shape + " = " + std::to_string(total) +
                                " bytes of data, the file holds " + std::to_string(have));
    }
    if (have > total) {
      throw DataError(file, "unexpected " + std::to_string(have - total) +
                                " bytes after the data (header says " + shape + ")");
    }
  }
  // Grow as the data arrives, so that a gzip file cannot claim gigabytes it
  // does not hold (a plain file's length was checked above).
  constexpr std::int64_t kChunk = std::int64_t{1} << 24;
  std::int64_t got = 0;
  while (got < total) {
    const std::int64_t want = std::min(kChunk, total - got);
    out.data.resize(static_cast<std::size_t>(got + want));
    const std::int64_t r = source.read(out.data.data() + got, want);
    got += r;
    if (r < want) {
      throw DataError(file, "truncated: the header says " + shape + " = " + std::to_string(total) +
                                " bytes of data, the file holds " + std::to_string(got) +
                                source.gz_problem());
    }
  }
  if (source.length() < 0) {
    std::uint8_t extra = 0;
    if (source.read(&extra, 1) != 0) {
      throw DataError(file, "unexpected bytes after the data (header says " + shape + ")");
    }
  }
  return out;
}

at::Tensor read_idx_images(const std::filesystem::path& file) {
  IdxArray idx = read_idx(file);
  if (idx.magic != kIdxImagesMagic) {
    throw DataError(file, "wrong magic " + hex32(idx.magic) + " for images (expected " +
                              hex32(kIdxImagesMagic) + ": u8 [n, rows, cols])");
  }
  return at::from_blob(idx.data.data(), {idx.dims[0], 1, idx.dims[1], idx.dims[2]},
                       at::TensorOptions().dtype(at::kByte))
      .clone();
}

at::Tensor read_idx_labels(const std::filesystem::path& file) {
  IdxArray idx = read_idx(file);
  if (idx.magic != kIdxLabelsMagic) {
    throw DataError(file, "wrong magic " + hex32(idx.magic) + " for labels (expected " +
                              hex32(kIdxLabelsMagic) + ": u8 [n])");
  }
  return at::from_blob(idx.data.data(), {idx.dims[0]}, at::TensorOptions().dtype(at::kByte))
      .to(at::kLong);
}

void write_idx(const std::filesystem::path& file, const std::vector<std::int64_t>& dims,
               const std::vector<std::uint8_t>& data) {
  if (dims.empty() || dims.size() > 4) throw DataError(file, "IDX rank must be 1 to 4");
  std::int64_t total = 1;
  std::vector<std::uint8_t> bytes = {0, 0, 0x08, static_cast<std::uint8_t>(dims.size())};
  for (const std::int64_t n : dims) {
    if (n < 0 || n > std::numeric_limits<std::uint32_t>::max()) {
      throw DataError(file, "IDX dimension out of range: " + std::to_string(n));
    }
    total *= n;
    const auto u = static_cast<std::uint32_t>(n);
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back((u >> shift) & 0xFFU);
  }
  if (total != static_cast<std::int64_t>(data.size())) {
    throw DataError(file, "write_idx: " + std::to_string(data.size()) +
                              " bytes for dimensions holding " + std::to_string(total));
  }
  bytes.insert(bytes.end(), data.begin(), data.end());
  if (is_gz(file)) {
    gzFile gz = gzopen(file.c_str(), "wb");
    if (gz == nullptr) throw DataError(file, "cannot create: " + lang::os_reason());
    const int written = gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
    const int closed = gzclose(gz);
    if (written != static_cast<int>(bytes.size()) || closed != Z_OK) {
      throw DataError(file, "write error (gzip)");
    }
    return;
  }
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw DataError(file, "write error: " + lang::os_reason());
}

}  // namespace spdec::runtime
