# spdec_add_fuzz_target(NAME <name>
#                       SOURCES <file>...            # defines LLVMFuzzerTestOneInput
#                       [LIBS <target>...]
#                       [CORPUS <dir>...]            # seed inputs (read only)
#                       [DICT <file>]                # libFuzzer dictionary
#                       [SMOKE_RUNS <n>])            # default 2000
#
# Only with -DSPDEC_FUZZ=ON and clang. Builds a libFuzzer executable (with
# address and undefined behaviour sanitizers) and registers a short CTest smoke
# test "fuzz/<name>" (label "fuzz") that replays the corpus and runs SMOKE_RUNS
# mutated inputs. Long runs are done by hand, e.g.
#   build-fuzz/tests/fuzz/<name> -max_total_time=600 build-fuzz/fuzz-corpus/<name> tests/fuzz/corpus/<name>
include_guard(GLOBAL)
include(SpdecWarnings)

function(spdec_add_fuzz_target)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "NAME;DICT;SMOKE_RUNS" "SOURCES;LIBS;CORPUS")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "spdec_add_fuzz_target: unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT SPDEC_FUZZ)
    return()
  endif()
  if(NOT ARG_NAME OR NOT ARG_SOURCES)
    message(FATAL_ERROR "spdec_add_fuzz_target: NAME and SOURCES are required")
  endif()
  if(NOT ARG_SMOKE_RUNS)
    set(ARG_SMOKE_RUNS 2000)
  endif()

  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS})
  target_compile_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer,${SPDEC_EFFECTIVE_SANITIZE}
                         -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer,${SPDEC_EFFECTIVE_SANITIZE})
  target_compile_definitions(${ARG_NAME} PRIVATE SPDEC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/tests/fuzz")
  spdec_target_warnings(${ARG_NAME})

  # libFuzzer writes new inputs into its first corpus directory: give it a
  # scratch one in the build tree so the checked-in seeds stay untouched.
  set(_scratch "${PROJECT_BINARY_DIR}/fuzz-corpus/${ARG_NAME}")
  file(MAKE_DIRECTORY "${_scratch}")
  set(_args -runs=${ARG_SMOKE_RUNS} -max_total_time=60 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  if(ARG_DICT)
    list(APPEND _args "-dict=${ARG_DICT}")
  endif()
  add_test(NAME fuzz/${ARG_NAME}
           COMMAND ${ARG_NAME} ${_args} "${_scratch}" ${ARG_CORPUS}
           WORKING_DIRECTORY "${PROJECT_BINARY_DIR}")
  set_tests_properties(fuzz/${ARG_NAME} PROPERTIES
    LABELS "fuzz"
    TIMEOUT 180
    ENVIRONMENT "SPDEC_SOURCE_DIR=${PROJECT_SOURCE_DIR};${SPDEC_SANITIZER_TEST_ENV}")
endfunction()
