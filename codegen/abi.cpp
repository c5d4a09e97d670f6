#include "codegen/abi.hpp"

#include <string>
#include <utility>

namespace spdec::codegen {
namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
  return text;
}

std::string render() {
  // NOLINTNEXTLINE(cppcoreguidelines-macro-usage)
#define SPDEC_RENDER_FIELD(type, name, comment) "  " #type " " #name ";  // " comment "\n"
  std::string text = "struct spdec_args {\n" SPDEC_KERNEL_ARGS_FIELDS(SPDEC_RENDER_FIELD) "};\n";
#undef SPDEC_RENDER_FIELD
  // Generated code includes no headers: spell the fixed-width types out
  // (LP64 on the host, NVPTX64 on the device: the same sizes).
  text = replace_all(std::move(text), "std::uint64_t", "unsigned long long");
  text = replace_all(std::move(text), "std::int64_t", "long long");
  return replace_all(std::move(text), "std::int32_t", "int");
}

}  // namespace

const char* kernel_args_source() {
  static const std::string text = render();
  return text.c_str();
}

}  // namespace spdec::codegen
