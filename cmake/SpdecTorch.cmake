# Finds LibTorch for runtime/, examples/, bench/ and their tests.
#
# Input:  SPDEC_WITH_TORCH = AUTO (use it when found) | ON (required) | OFF
# Output: SPDEC_HAVE_TORCH (ON/OFF), SPDEC_TORCH_VERSION
#         target spdec::torch   link this (not `torch` or TORCH_INCLUDE_DIRS):
#                               Torch's libraries, its include directories as
#                               system includes, its required compile flags
#                               (TORCH_CXX_FLAGS, e.g. -D_GLIBCXX_USE_CXX11_ABI=1)
#                               and SPDEC_WITH_TORCH=1 -- all only on the
#                               targets that link it, never on lang/codegen.
#         spdec_torch_pch(<target> [HEADERS <h>...] [REUSE_FROM <other>])
#                               precompiles a narrow set of Torch headers for
#                               <target> (SPDEC_TORCH_PCH_HEADERS plus HEADERS),
#                               or reuses the PCH of <other> (same flags needed).
#                               -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON turns PCHs off.
#
# Where LibTorch comes from: Debian's libtorch-dev (found by default), any
# -DCMAKE_PREFIX_PATH/-DTorch_DIR, or else a Python torch (pip wheel, e.g.
# 2.11+cu130 on the GPU machine) through torch.utils.cmake_prefix_path.
include_guard(GLOBAL)
include(SpdecWarnings)

set(SPDEC_HAVE_TORCH OFF)
set(SPDEC_TORCH_VERSION "")

set(SPDEC_TORCH_PCH_HEADERS <torch/types.h> <torch/nn/module.h>
    CACHE STRING "Torch headers precompiled by spdec_torch_pch()")

function(_spdec_torch_from_python out)
  set(${out} "" PARENT_SCOPE)
  find_program(SPDEC_PYTHON3 NAMES python3 python)
  if(NOT SPDEC_PYTHON3)
    return()
  endif()
  execute_process(
    COMMAND "${SPDEC_PYTHON3}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE _path RESULT_VARIABLE _rc ERROR_QUIET
    OUTPUT_STRIP_TRAILING_WHITESPACE TIMEOUT 120)
  if(_rc EQUAL 0 AND IS_DIRECTORY "${_path}")
    set(${out} "${_path}" PARENT_SCOPE)
  endif()
endfunction()

if(NOT SPDEC_WITH_TORCH STREQUAL "OFF")
  find_package(Torch QUIET)
  if(NOT Torch_FOUND)
    _spdec_torch_from_python(_spdec_torch_prefix)
    if(_spdec_torch_prefix)
      message(STATUS "spdec: using the LibTorch of Python's torch (${_spdec_torch_prefix})")
      list(APPEND CMAKE_PREFIX_PATH "${_spdec_torch_prefix}")
      find_package(Torch QUIET)
    endif()
  endif()

  # LibTorch 1.x headers do not compile with clang in C++20 mode (clang
  # instantiates std::vector<c10::IValue>'s constexpr destructor while IValue
  # is incomplete, ATen/core/List.h). Debian's libtorch-dev is 1.13, so a clang
  # build (fuzzing, lint) goes without the runtime; GCC builds are unaffected.
  set(_spdec_torch_unusable "")
  if(Torch_FOUND AND CMAKE_CXX_COMPILER_ID MATCHES "Clang" AND Torch_VERSION VERSION_LESS 2.0)
    set(_spdec_torch_unusable
        "LibTorch ${Torch_VERSION}'s headers do not compile with clang in C++20; build the runtime with GCC")
    if(SPDEC_WITH_TORCH STREQUAL "ON")
      message(FATAL_ERROR "spdec: SPDEC_WITH_TORCH=ON: ${_spdec_torch_unusable}")
    endif()
    message(STATUS "spdec: ${_spdec_torch_unusable}; runtime/, examples/ and bench/ are skipped")
  endif()

  if(Torch_FOUND AND NOT _spdec_torch_unusable)
    set(SPDEC_HAVE_TORCH ON)
    # Version: TorchConfigVersion sets PACKAGE_VERSION via Torch_VERSION.
    set(SPDEC_TORCH_VERSION "${Torch_VERSION}")

    # TORCH_CXX_FLAGS carries the libstdc++ ABI Torch was built with. Torch's
    # own target already passes it to its consumers only. An old-ABI (=0)
    # LibTorch cannot share std::string with code built with the new ABI, so
    # warn: lang/codegen objects would not link with the runtime.
    if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
      message(WARNING "spdec: this LibTorch uses the pre-C++11 libstdc++ ABI "
                      "(TORCH_CXX_FLAGS=${TORCH_CXX_FLAGS}); use a cxx11-ABI LibTorch "
                      "(Debian's libtorch-dev, pip torch >= 2.7) or link errors will follow.")
    endif()

    add_library(spdec_torch INTERFACE)
    add_library(spdec::torch ALIAS spdec_torch)
    target_link_libraries(spdec_torch INTERFACE ${TORCH_LIBRARIES})
    target_compile_definitions(spdec_torch INTERFACE SPDEC_WITH_TORCH=1)
    # A CUDA build of LibTorch (pip's torch on the GPU machine) ships c10_cuda:
    # the compiled CUDA kernels then launch on its current stream.
    if(TORCH_CUDA_LIBRARIES)
      target_compile_definitions(spdec_torch INTERFACE SPDEC_TORCH_CUDA=1)
    endif()
    separate_arguments(_spdec_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
    target_compile_options(spdec_torch INTERFACE ${_spdec_torch_flags})
    foreach(_lib IN LISTS TORCH_LIBRARIES)
      if(TARGET ${_lib})
        spdec_mark_system(${_lib})
      endif()
    endforeach()
    spdec_mark_system(torch torch_cpu torch_cuda c10 c10_cuda)
    message(STATUS "spdec: LibTorch ${SPDEC_TORCH_VERSION} found (${Torch_DIR}); "
                   "runtime/, examples/ and bench/ are built")
  elseif(_spdec_torch_unusable)
    # said above
  elseif(SPDEC_WITH_TORCH STREQUAL "ON")
    message(FATAL_ERROR "spdec: SPDEC_WITH_TORCH=ON but LibTorch was not found. Install "
                        "libtorch-dev, or pass -DCMAKE_PREFIX_PATH=$(python3 -c 'import "
                        "torch.utils;print(torch.utils.cmake_prefix_path)')")
  else()
    message(STATUS "spdec: LibTorch not found; runtime/, examples/ and bench/ are skipped "
                   "(apt-get install libtorch-dev, or -DCMAKE_PREFIX_PATH=<torch cmake prefix>)")
  endif()
else()
  message(STATUS "spdec: SPDEC_WITH_TORCH=OFF; runtime/, examples/ and bench/ are skipped")
endif()

function(spdec_torch_pch tgt)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "REUSE_FROM" "HEADERS")
  if(NOT SPDEC_HAVE_TORCH)
    message(FATAL_ERROR "spdec_torch_pch(${tgt}): LibTorch is not available in this build")
  endif()
  if(ARG_REUSE_FROM)
    target_precompile_headers(${tgt} REUSE_FROM ${ARG_REUSE_FROM})
  else()
    target_precompile_headers(${tgt} PRIVATE ${SPDEC_TORCH_PCH_HEADERS} ${ARG_HEADERS})
  endif()
endfunction()
