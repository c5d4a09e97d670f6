# c10d's process groups for data-parallel jobs (runtime/distributed/).
#
# Output: SPDEC_HAVE_GLOO, SPDEC_HAVE_NCCL (ON/OFF)
#         spdec_distributed_sources(<target> <source>): the source that
#           includes ProcessGroupGloo.hpp / ProcessGroupNCCL.hpp gets
#           SPDEC_WITH_GLOO / SPDEC_WITH_NCCL (and no precompiled header, so
#           that the rest of the target keeps one set of flags)
#
# LibTorch exports c10d (TCPStore, ProcessGroupGloo, with CUDA
# ProcessGroupNCCL), but its headers need more than LibTorch ships everywhere:
# ProcessGroupGloo.hpp includes Gloo's headers (Debian: libgloo-dev) and
# ProcessGroupNCCL.hpp NCCL's and CUDA's. Each is therefore tried once at
# configure time: a compile of the header with the calls
# runtime/distributed/c10d_group.cpp makes (so an API that moved between
# LibTorch versions turns the backend off rather than breaking the build);
# what does not compile is left out with a line saying so, and a job on
# several ranks then says what is missing. Without Gloo a build still trains
# and samples on one process.
include_guard(GLOBAL)

set(SPDEC_HAVE_GLOO OFF)
set(SPDEC_HAVE_NCCL OFF)

function(_spdec_try_c10d_header out header define body)
  if(DEFINED CACHE{${out}})
    return()
  endif()
  set(_dir "${CMAKE_BINARY_DIR}/CMakeFiles/spdec-${define}")
  file(WRITE "${_dir}/check.cpp"
       "#define ${define}\n#include <torch/csrc/distributed/c10d/${header}>\n"
       "void spdec_check(const c10::intrusive_ptr<c10d::Store>& store) {\n${body}\n}\n")
  set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
  try_compile(_ok "${_dir}/build" SOURCES "${_dir}/check.cpp"
              CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${ARGN}"
              LINK_LIBRARIES torch
              CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON
              OUTPUT_VARIABLE _log)
  set(${out} ${_ok} CACHE INTERNAL "c10d/${header} compiles")
  if(NOT _ok)
    string(REGEX MATCH "fatal error: [^\n]*" _why "${_log}")
    set(${out}_WHY "${_why}" CACHE INTERNAL "why c10d/${header} does not compile")
  endif()
endfunction()

if(SPDEC_HAVE_TORCH AND TARGET torch)
  _spdec_try_c10d_header(SPDEC_C10D_GLOO_COMPILES ProcessGroupGloo.hpp USE_C10D_GLOO [=[
  auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::milliseconds(1));
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface("lo"));
  (void)c10::make_intrusive<c10d::ProcessGroupGloo>(store, 0, 1, options);]=])
  if(SPDEC_C10D_GLOO_COMPILES)
    set(SPDEC_HAVE_GLOO ON)
    message(STATUS "spdec: c10d Gloo ON (data-parallel jobs on CPUs: --nproc, torchrun)")
  else()
    message(STATUS "spdec: c10d Gloo OFF: ProcessGroupGloo.hpp does not compile "
                   "(${SPDEC_C10D_GLOO_COMPILES_WHY}); apt-get install libgloo-dev for "
                   "data-parallel jobs")
  endif()
  if(TORCH_CUDA_LIBRARIES)
    find_path(SPDEC_NCCL_INCLUDE_DIR nccl.h
              HINTS ${CUDAToolkit_INCLUDE_DIRS} "${_spdec_torch_prefix}/../../nvidia/nccl/include"
                    "${Torch_DIR}/../../../../nvidia/nccl/include")
    set(_nccl_includes ${CUDAToolkit_INCLUDE_DIRS})
    if(SPDEC_NCCL_INCLUDE_DIR)
      list(APPEND _nccl_includes "${SPDEC_NCCL_INCLUDE_DIR}")
    endif()
    _spdec_try_c10d_header(SPDEC_C10D_NCCL_COMPILES ProcessGroupNCCL.hpp USE_C10D_NCCL [=[
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = std::chrono::milliseconds(1);
  (void)c10::make_intrusive<c10d::ProcessGroupNCCL>(store, 0, 1, options);]=]
                           ${_nccl_includes})
    if(SPDEC_C10D_NCCL_COMPILES)
      set(SPDEC_HAVE_NCCL ON)
      message(STATUS "spdec: c10d NCCL ON (data-parallel jobs on GPUs)")
    else()
      message(STATUS "spdec: c10d NCCL OFF: ProcessGroupNCCL.hpp does not compile "
                     "(${SPDEC_C10D_NCCL_COMPILES_WHY}); GPU jobs on several ranks use Gloo")
    endif()
  endif()
endif()

function(spdec_distributed_sources tgt source)
  set(_definitions "")
  if(SPDEC_HAVE_GLOO)
    list(APPEND _definitions SPDEC_WITH_GLOO)
  endif()
  if(SPDEC_HAVE_NCCL)
    list(APPEND _definitions SPDEC_WITH_NCCL)
    if(SPDEC_NCCL_INCLUDE_DIR)
      target_include_directories(${tgt} SYSTEM PRIVATE "${SPDEC_NCCL_INCLUDE_DIR}")
    endif()
  endif()
  set_source_files_properties("${source}" TARGET_DIRECTORY ${tgt} PROPERTIES
                              COMPILE_DEFINITIONS "${_definitions}"
                              SKIP_PRECOMPILE_HEADERS ON)
endfunction()
