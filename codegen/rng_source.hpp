// The Philox stream's source text (codegen/rng/philox.h, embedded at build
// time), as generated modules paste it.
#pragma once

#include <string>

namespace spdec::codegen {

/// codegen/rng/philox.h verbatim: valid host C++ and NVRTC CUDA, no includes.
[[nodiscard]] const std::string& rng_source();

}  // namespace spdec::codegen
