# spdec_add_catch_test(NAME <name>
#                      SOURCES <file>...
#                      [LIBS <target>...]
#                      [LABELS <label>...]
#                      [ENVIRONMENT <VAR=value>...]
#                      [TIMEOUT <seconds>]        # per test case, default 300
#                      [PROPERTIES <prop> <value>...]  # more CTest properties, single
#                                                 # values (RUN_SERIAL ON, RESOURCE_LOCK x)
#                      [NO_SANITIZE])             # e.g. for Torch-based tests
#
# Builds one Catch2 (v2) test executable <name> from SOURCES, linked with the
# shared Catch2 main (tests/catch_main.cpp, compiled once for the whole build)
# and LIBS; applies spdec_target_warnings and spdec_target_sanitize; and
# registers every TEST_CASE as its own CTest test named "<name>/<test case>"
# (listed after each build of the executable by SpdecCatchDiscover.cmake; any
# test case name works, also one that starts with '-' or holds commas).
#
# Tests run with the working directory ${PROJECT_SOURCE_DIR} and the
# environment variable SPDEC_SOURCE_DIR=${PROJECT_SOURCE_DIR} (also available at
# compile time as the macro SPDEC_SOURCE_DIR), so corpora are found as
# "tests/lang/corpus/..." whatever the build directory is. LABELS select
# tests with ctest -L <label>.
include_guard(GLOBAL)
include(SpdecWarnings)
include(SpdecSanitizers)

set(_SPDEC_CATCH_DISCOVER_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/SpdecCatchDiscover.cmake")

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
                        "SOURCES;LIBS;LABELS;ENVIRONMENT;PROPERTIES")
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
  set(_env "SPDEC_SOURCE_DIR=${PROJECT_SOURCE_DIR}" "SPDEC_BINARY_DIR=${PROJECT_BINARY_DIR}")
  if(NOT ARG_NO_SANITIZE)
    spdec_target_sanitize(${ARG_NAME})
    if(SPDEC_EFFECTIVE_SANITIZE)
      list(APPEND _env ${SPDEC_SANITIZER_TEST_ENV})
    endif()
  endif()
  list(APPEND _env ${ARG_ENVIRONMENT})

  # Tests are listed after each build of the executable (see
  # SpdecCatchDiscover.cmake) into a CTest file included by this directory's tests.
  set(_tests_file "${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}_tests.cmake")
  add_custom_command(TARGET ${ARG_NAME} POST_BUILD
    BYPRODUCTS "${_tests_file}"
    COMMAND "${CMAKE_COMMAND}"
            -D "TEST_EXECUTABLE=$<TARGET_FILE:${ARG_NAME}>"
            -D "TEST_PREFIX=${ARG_NAME}/"
            -D "TEST_WORKING_DIR=${PROJECT_SOURCE_DIR}"
            -D "TEST_TIMEOUT=${ARG_TIMEOUT}"
            -D "TEST_LABELS=${ARG_LABELS}"
            -D "TEST_ENVIRONMENT=${_env}"
            -D "TEST_PROPERTIES=${ARG_PROPERTIES}"
            -D "CTEST_FILE=${_tests_file}"
            -P "${_SPDEC_CATCH_DISCOVER_SCRIPT}"
    COMMENT "Listing the tests of ${ARG_NAME}"
    VERBATIM)
  set(_include_file "${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}_include.cmake")
  file(WRITE "${_include_file}"
    "if(EXISTS \"${_tests_file}\")\n"
    "  include(\"${_tests_file}\")\n"
    "else()\n"
    "  add_test(${ARG_NAME}_NOT_BUILT ${ARG_NAME}_NOT_BUILT)\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${_include_file}")
endfunction()
