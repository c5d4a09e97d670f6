# spdec_add_catch_test(NAME <name>
#                      SOURCES <file>...
#                      [LIBS <target>...]
#                      [LABELS <label>...]
#                      [ENVIRONMENT <VAR=value>...]
#                      [TIMEOUT <seconds>]        # per test case, default 300
#                      [NO_SANITIZE])             # e.g. for Torch-based tests
#
# Builds one Catch2 (v2) test executable <name> from SOURCES, linked with the
# shared Catch2 main (tests/catch_main.cpp, compiled once for the whole build)
# and LIBS; applies spdec_target_warnings and spdec_target_sanitize; and
# registers every TEST_CASE as its own CTest test named "<name>/<test case>"
# (catch_discover_tests, run after each build of the executable).
#
# Tests run with the working directory ${PROJECT_SOURCE_DIR} and the
# environment variable SPDEC_SOURCE_DIR=${PROJECT_SOURCE_DIR} (also available at
# compile time as the macro SPDEC_SOURCE_DIR), so corpora are found as
# "tests/lang/corpus/..." whatever the build directory is, and with
# SPDEC_CACHE_DIR=<build>/kernel-cache, so JIT-compiled kernels stay in the
# build tree. LABELS select tests with ctest -L <label>.
include_guard(GLOBAL)
include(SpdecWarnings)
include(SpdecSanitizers)

# spdec_catch_main_library(): creates the object library spdec_catch_main
# (tests/catch_main.cpp) once; tests/CMakeLists.txt calls it so its object
# lives in build/tests, and spdec_add_catch_test() calls it in case.
function(spdec_catch_main_library)
  if(TARGET spdec_catch_main)
    return()
  endif()
  if(NOT TARGET Catch2::Catch2)
    message(FATAL_ERROR "spdec_add_catch_test: Catch2 was not found (apt-get install catch2, "
                        "or -DSPDEC_DEPS_DIR=<dir made by tools/prepare_offline_deps.sh>)")
  endif()
  # Built once, linked into every test executable. Not sanitized: the main
  # translation unit only hosts Catch's runner.
  add_library(spdec_catch_main OBJECT "${PROJECT_SOURCE_DIR}/tests/catch_main.cpp")
  target_link_libraries(spdec_catch_main PUBLIC Catch2::Catch2)
endfunction()

function(spdec_add_catch_test)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "NO_SANITIZE" "NAME;TIMEOUT"
                        "SOURCES;LIBS;LABELS;ENVIRONMENT")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "spdec_add_catch_test: unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_NAME OR NOT ARG_SOURCES)
    message(FATAL_ERROR "spdec_add_catch_test: NAME and SOURCES are required")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  spdec_catch_main_library()

  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE spdec_catch_main Catch2::Catch2 ${ARG_LIBS})
  target_compile_definitions(${ARG_NAME} PRIVATE SPDEC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/tests")
  spdec_target_warnings(${ARG_NAME})
  # Kernels the tests JIT-compile go to a cache inside the build tree, never
  # into the user's ~/.cache/spdec.
  # OMP_WAIT_POLICY=PASSIVE: CTest runs two test processes on two cores, each
  # with OpenMP threads (LibTorch, OpenBLAS, the generated kernels); threads
  # that spin while waiting steal the cores the working ones need, which
  # slowed the sampler oracles ten-fold under load.
  set(_env "SPDEC_SOURCE_DIR=${PROJECT_SOURCE_DIR}" "SPDEC_BINARY_DIR=${PROJECT_BINARY_DIR}"
           "SPDEC_CACHE_DIR=${PROJECT_BINARY_DIR}/kernel-cache" "OMP_WAIT_POLICY=PASSIVE")
  if(NOT ARG_NO_SANITIZE)
    spdec_target_sanitize(${ARG_NAME})
    if(SPDEC_EFFECTIVE_SANITIZE)
      list(APPEND _env ${SPDEC_SANITIZER_TEST_ENV})
    endif()
  endif()
  list(APPEND _env ${ARG_ENVIRONMENT})
  set(_labels ${ARG_LABELS})

  catch_discover_tests(${ARG_NAME}
    TEST_PREFIX "${ARG_NAME}/"
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
    TEST_LIST "${ARG_NAME}_TESTS"
    PROPERTIES TIMEOUT ${ARG_TIMEOUT})

  # catch_discover_tests flattens list-valued PROPERTIES, so LABELS and
  # ENVIRONMENT (lists) are set by a CTest script of our own, included after
  # the discovered tests, over the names they were registered under.
  string(REPLACE "]==]" "" _labels_text "${_labels}")
  string(REPLACE "]==]" "" _env_text "${_env}")
  set(_props "${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}_properties.cmake")
  file(WRITE "${_props}"
    "foreach(_spdec_test IN LISTS ${ARG_NAME}_TESTS)\n"
    "  set_tests_properties(\"\${_spdec_test}\" PROPERTIES\n"
    "    LABELS [==[${_labels_text}]==]\n"
    "    ENVIRONMENT [==[${_env_text}]==])\n"
    "endforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${_props}")
endfunction()
