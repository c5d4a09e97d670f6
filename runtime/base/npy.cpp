#include "runtime/base/npy.hpp"

#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "lang/os_reason.hpp"
#include "runtime/base/atomic_write.hpp"
#include "runtime/base/data_error.hpp"

namespace spdec::runtime {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

std::string shape_literal(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// The value after `'key':` in the header dict, up to the next top-level ','
// or '}' (a tuple's commas are inside parentheses).
std::string dict_value(const std::string& header, const std::string& key) {
  const std::string quoted[] = {"'" + key + "'", "\"" + key + "\""};
  std::size_t at = std::string::npos;
  for (const auto& q : quoted) {
    at = header.find(q);
    if (at != std::string::npos) {
      at += q.size();
      break;
    }
  }
  if (at == std::string::npos) return {};
  at = header.find(':', at);
  if (at == std::string::npos) return {};
  ++at;
  int depth = 0;
  std::size_t end = at;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  std::string v = header.substr(at, end - at);
  const auto first = v.find_first_not_of(" \t");
  const auto last = v.find_last_not_of(" \t");
  return first == std::string::npos ? std::string() : v.substr(first, last - first + 1);
}

}  // namespace

std::string npy_preamble(const std::vector<std::int64_t>& shape, const std::string& descr) {
  std::string dict =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_literal(shape) + ", }";
  // magic (6) + version (2) + length (2) + dict + padding + '\n' ≡ 0 (mod 64)
  const std::size_t unpadded = 10 + dict.size() + 1;
  // As numpy writes it: always at least one space (64 when already aligned).
  dict.append(64 - unpadded % 64, ' ');
  dict += '\n';
  std::string out(kMagic);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xFFU);
  out += static_cast<char>((dict.size() >> 8) & 0xFFU);
  return out + dict;
}

void write_npy(const std::filesystem::path& file, const at::Tensor& tensor) {
  if (!tensor.defined()) throw DataError(file, "write_npy: undefined tensor");
  const at::Tensor data = tensor.detach().to(at::kCPU).to(at::kFloat).contiguous();
  const std::vector<std::int64_t> shape(data.sizes().begin(), data.sizes().end());
  std::string bytes = npy_preamble(shape, "<f4");
  if (bytes.size() > 65535 + 10) throw DataError(file, "npy header too long for version 1.0");
  // LibTorch's CPU floats are the host's: little-endian on every supported target.
  static_assert(std::endian::native == std::endian::little, "npy writer assumes little-endian");
  const auto* raw = static_cast<const char*>(data.data_ptr());
  bytes.append(raw, static_cast<std::size_t>(data.numel()) * sizeof(float));
  write_file_atomically(file, bytes);
}

at::Tensor read_npy(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) throw DataError(file, "no such file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DataError(file, "cannot open: " + lang::os_reason());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, kMagic.size(), kMagic) != 0) {
    throw DataError(file, "not a .npy file (no \\x93NUMPY magic)");
  }
  const auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0;
  std::size_t offset = 0;
  auto byte = [&](std::size_t i) {
    return static_cast<std::size_t>(static_cast<unsigned char>(bytes[i]));
  };
  if (major == 1) {
    header_len = byte(8) | (byte(9) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw DataError(file, "truncated .npy preamble");
    header_len = byte(8) | (byte(9) << 8) | (byte(10) << 16) | (byte(11) << 24);
    offset = 12;
  } else {
    throw DataError(file, "unsupported .npy format version " + std::to_string(major));
  }
  if (bytes.size() < offset + header_len) throw DataError(file, "truncated .npy header");
  const std::string header = bytes.substr(offset, header_len);
  offset += header_len;

  std::string descr = dict_value(header, "descr");
  if (descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"')) {
    descr = descr.substr(1, descr.size() - 2);
  }
  at::ScalarType type{};
  std::size_t item = 0;
  if (descr == "<f4") {
    type = at::kFloat;
    item = 4;
  } else if (descr == "<f8") {
    type = at::kDouble;
    item = 8;
  } else if (descr == "|u1" || descr == "<u1") {
    type = at::kByte;
    item = 1;
  } else if (descr == "<i4") {
    type = at::kInt;
    item = 4;
  } else if (descr == "<i8") {
    type = at::kLong;
    item = 8;
  } else {
    throw DataError(file, "unsupported dtype '" + descr + "' (<f4, <f8, |u1, <i4, <i8)");
  }
  if (dict_value(header, "fortran_order") != "False") {
    throw DataError(file, "Fortran-order arrays are not supported");
  }
  const std::string shape_text = dict_value(header, "shape");
  if (shape_text.size() < 2 || shape_text.front() != '(' || shape_text.back() != ')') {
    throw DataError(file, "bad shape in the .npy header: " + shape_text);
  }
  std::vector<std::int64_t> shape;
  std::int64_t count = 1;
  std::stringstream parts(shape_text.substr(1, shape_text.size() - 2));
  std::string part;
  while (std::getline(parts, part, ',')) {
    if (part.find_first_not_of(" ") == std::string::npos) continue;
    std::size_t used = 0;
    std::int64_t n = -1;
    try {
      n = std::stoll(part, &used);
    } catch (const std::exception&) {
      n = -1;
    }
    if (n < 0) throw DataError(file, "bad shape in the .npy header: " + shape_text);
    shape.push_back(n);
    // Saturate: a corrupt shape must not overflow (the size check below fails).
    count = (n != 0 && count > static_cast<std::int64_t>(bytes.size()) / n)
                ? static_cast<std::int64_t>(bytes.size()) + 1
                : count * n;
  }
  const std::size_t need = static_cast<std::size_t>(count) * item;
  if (bytes.size() - offset != need) {
    throw DataError(file, "data is " + std::to_string(bytes.size() - offset) + " bytes, shape " +
                              shape_text + " of " + descr + " needs " + std::to_string(need));
  }
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(type));
  if (need > 0) std::memcpy(out.data_ptr(), bytes.data() + offset, need);
  return out;
}

}  // namespace spdec::runtime
