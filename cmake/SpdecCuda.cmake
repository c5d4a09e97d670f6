# Finds what the CUDA backend needs: NVRTC (to compile generated CUDA to PTX or
# cubin at run time) and the CUDA headers. No GPU and no libcuda are needed to
# build: the driver is loaded lazily at run time by codegen.
#
# Input:  SPDEC_WITH_CUDA = AUTO (use it when found) | ON (required) | OFF
# Output: SPDEC_HAVE_CUDA (ON/OFF), SPDEC_CUDA_HOME, SPDEC_CUDA_VERSION,
#         SPDEC_CUDA_INCLUDE_DIR, SPDEC_NVRTC_LIBRARY
#         target spdec::cuda   (only when ON) NVRTC + CUDA headers (system),
#                              ${CMAKE_DL_LIBS}, and SPDEC_WITH_CUDA=1; never
#                              libcuda (load the driver with dlopen)
# Prints exactly one status line saying whether the CUDA backend is on, and why not.
include_guard(GLOBAL)

set(SPDEC_HAVE_CUDA OFF)
set(SPDEC_CUDA_HOME "")
set(SPDEC_CUDA_VERSION "")
set(SPDEC_CUDA_INCLUDE_DIR "")
set(SPDEC_NVRTC_LIBRARY "")
set(_spdec_cuda_why "")

if(SPDEC_WITH_CUDA STREQUAL "OFF")
  set(_spdec_cuda_why "disabled by -DSPDEC_WITH_CUDA=OFF")
else()
  find_package(CUDAToolkit QUIET)
  if(NOT CUDAToolkit_FOUND)
    set(_spdec_cuda_why "no CUDA toolkit found (nvcc on PATH, CUDAToolkit_ROOT, CUDA_PATH, /usr/local/cuda)")
  elseif(NOT TARGET CUDA::nvrtc)
    set(_spdec_cuda_why "the CUDA toolkit in ${CUDAToolkit_LIBRARY_ROOT} has no NVRTC library")
  else()
    get_target_property(SPDEC_NVRTC_LIBRARY CUDA::nvrtc IMPORTED_LOCATION)
    find_path(SPDEC_CUDA_INCLUDE_DIR_PATH cuda.h HINTS ${CUDAToolkit_INCLUDE_DIRS} NO_DEFAULT_PATH)
    if(NOT SPDEC_NVRTC_LIBRARY)
      set(SPDEC_NVRTC_LIBRARY "")
      set(_spdec_cuda_why "the CUDA toolkit ${CUDAToolkit_VERSION} names no NVRTC library file")
    elseif(NOT SPDEC_CUDA_INCLUDE_DIR_PATH)
      set(_spdec_cuda_why "the CUDA toolkit ${CUDAToolkit_VERSION} has no cuda.h in ${CUDAToolkit_INCLUDE_DIRS}")
    else()
      set(SPDEC_HAVE_CUDA ON)
    endif()
  endif()
endif()

if(SPDEC_HAVE_CUDA)
  set(SPDEC_CUDA_VERSION "${CUDAToolkit_VERSION}")
  set(SPDEC_CUDA_INCLUDE_DIR "${SPDEC_CUDA_INCLUDE_DIR_PATH}")
  if(CUDAToolkit_LIBRARY_ROOT)
    set(SPDEC_CUDA_HOME "${CUDAToolkit_LIBRARY_ROOT}")
  else()
    get_filename_component(SPDEC_CUDA_HOME "${CUDAToolkit_BIN_DIR}" DIRECTORY)
  endif()
  add_library(spdec_cuda INTERFACE)
  add_library(spdec::cuda ALIAS spdec_cuda)
  # NVRTC by its file, not CUDA::nvrtc: that target drags in libcuda (the
  # driver), and a binary that needs libcuda.so.1 would not start on a machine
  # without a GPU driver. codegen loads the driver with dlopen instead.
  target_include_directories(spdec_cuda SYSTEM INTERFACE ${CUDAToolkit_INCLUDE_DIRS})
  target_link_libraries(spdec_cuda INTERFACE "${SPDEC_NVRTC_LIBRARY}" ${CMAKE_DL_LIBS})
  target_compile_definitions(spdec_cuda INTERFACE SPDEC_WITH_CUDA=1)
  message(STATUS "spdec: CUDA backend ON: NVRTC ${SPDEC_CUDA_VERSION} from ${SPDEC_CUDA_HOME} "
                 "(kernels are compiled at run time; the driver is loaded lazily)")
elseif(SPDEC_WITH_CUDA STREQUAL "ON")
  message(FATAL_ERROR "spdec: SPDEC_WITH_CUDA=ON but the CUDA backend cannot be built: ${_spdec_cuda_why}")
else()
  message(STATUS "spdec: CUDA backend OFF: ${_spdec_cuda_why}; kernels use the CPU backend only")
endif()
