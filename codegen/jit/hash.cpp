#include "codegen/jit/hash.hpp"

#include <array>

namespace spdec::jit {

std::string hex64(std::uint64_t value) {
  static constexpr std::array<char, 16> kDigits = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                   '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string text(16, '0');
  for (std::size_t i = 0; i < 16; ++i) {
    text[15 - i] = kDigits.at(value & 0xFU);
    value >>= 4U;
  }
  return text;
}

std::string content_hash(std::string_view text) {
  return hex64(lang::fnv1a64(text)) + "-" + std::to_string(text.size());
}

}  // namespace spdec::jit
