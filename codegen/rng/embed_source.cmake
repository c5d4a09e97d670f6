# cmake -DINPUT=<philox.h> -DOUTPUT=<philox_source.hpp> -P embed_source.cmake
#
# Writes a C++17 header holding INPUT's text verbatim as
# spdec::rng::kPhiloxSource, a raw string literal. Rewrites OUTPUT only when
# its content changes, so dependants are not rebuilt for nothing.
if(NOT INPUT OR NOT OUTPUT)
  message(FATAL_ERROR "embed_source.cmake: pass -DINPUT=<file> -DOUTPUT=<file>")
endif()
file(READ "${INPUT}" _text)

# The raw string's delimiter must not occur in the text (C++ allows at most 16
# characters).
set(_delim "spdec_philox")
string(FIND "${_text}" ")${_delim}\"" _clash)
if(NOT _clash EQUAL -1)
  message(FATAL_ERROR "embed_source.cmake: ${INPUT} contains ')${_delim}\"', the raw-string "
                      "delimiter used to embed it; change the delimiter here")
endif()
string(LENGTH "${_text}" _length)

set(_out "// Generated at build time by codegen/rng/embed_source.cmake from\n")
string(APPEND _out "// codegen/rng/philox.h -- do not edit; edit philox.h.\n")
string(APPEND _out "#pragma once\n\n#include <string_view>\n\n")
string(APPEND _out "namespace spdec::rng {\n")
string(APPEND _out "// The text of codegen/rng/philox.h (${_length} bytes): paste it into a generated\n")
string(APPEND _out "// C++ or CUDA source before the code that calls spdec_gaussian4().\n")
string(APPEND _out "inline constexpr std::string_view kPhiloxSource = R\"${_delim}(${_text})${_delim}\";\n")
string(APPEND _out "}  // namespace spdec::rng\n")

if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" _old)
  if(_old STREQUAL _out)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${_out}")
