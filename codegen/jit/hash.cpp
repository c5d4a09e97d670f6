#include "codegen/jit/hash.hpp"

namespace spdec::jit {

std::string content_hash(std::string_view text) {
  return hex64(lang::fnv1a64(text)) + "-" + std::to_string(text.size());
}

}  // namespace spdec::jit
