#include "codegen/rng_source.hpp"

#include <spdec/rng/philox_source.hpp>

namespace spdec::codegen {

const std::string& rng_source() {
  static const std::string text(spdec::rng::kPhiloxSource);
  return text;
}

}  // namespace spdec::codegen
