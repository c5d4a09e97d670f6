# spdec_target_sanitize(<target>)
#
# With -DSPDEC_SANITIZE=address,undefined (any comma-separated list that the
# compiler accepts after -fsanitize=) the target is compiled with the
# sanitizers, and everything that links it links the sanitizer runtimes
# (the link flags are PUBLIC/INTERFACE, so a static library passes them on to
# the executables that use it). UB is made fatal (-fno-sanitize-recover=all),
# so a sanitizer finding fails the test that triggered it.
#
# With -DSPDEC_FUZZ=ON the target is additionally instrumented for coverage
# (-fsanitize=fuzzer-no-link), so the libFuzzer targets under tests/fuzz see
# inside the libraries they call.
#
# Used for the lang/codegen libraries and their tests (spdec_add_catch_test
# applies it to every test executable). Torch-based targets normally don't.
include_guard(GLOBAL)

if(SPDEC_SANITIZE)
  string(REPLACE ";" "," SPDEC_SANITIZE "${SPDEC_SANITIZE}")
  string(REPLACE " " "" SPDEC_SANITIZE "${SPDEC_SANITIZE}")
  if(SPDEC_SANITIZE MATCHES "thread" AND SPDEC_SANITIZE MATCHES "address")
    message(FATAL_ERROR "SPDEC_SANITIZE: 'thread' cannot be combined with 'address'")
  endif()
  if(SPDEC_SANITIZE MATCHES "(^|,)memory(,|$)" AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SPDEC_SANITIZE: 'memory' needs clang")
  endif()
endif()

# The sanitizers in effect for our targets: fuzzing needs address+undefined
# in every instrumented library (their runtimes also provide the coverage
# callbacks that -fsanitize=fuzzer-no-link code calls).
set(SPDEC_EFFECTIVE_SANITIZE "${SPDEC_SANITIZE}")
if(SPDEC_FUZZ AND NOT SPDEC_EFFECTIVE_SANITIZE)
  set(SPDEC_EFFECTIVE_SANITIZE "address,undefined")
endif()

function(spdec_target_sanitize tgt)
  if(NOT TARGET ${tgt})
    message(FATAL_ERROR "spdec_target_sanitize: no target named '${tgt}'")
  endif()
  if(NOT SPDEC_EFFECTIVE_SANITIZE AND NOT SPDEC_FUZZ)
    return()
  endif()
  get_target_property(_type ${tgt} TYPE)
  set(_compile "")
  set(_link "")
  if(SPDEC_EFFECTIVE_SANITIZE)
    list(APPEND _compile -fsanitize=${SPDEC_EFFECTIVE_SANITIZE} -fno-omit-frame-pointer
         -fno-sanitize-recover=all -D_GLIBCXX_ASSERTIONS)
    list(APPEND _link -fsanitize=${SPDEC_EFFECTIVE_SANITIZE})
  endif()
  if(SPDEC_FUZZ)
    list(APPEND _compile -fsanitize=fuzzer-no-link)
  endif()
  if(_type STREQUAL "INTERFACE_LIBRARY")
    target_compile_options(${tgt} INTERFACE ${_compile})
    target_link_options(${tgt} INTERFACE ${_link})
  else()
    target_compile_options(${tgt} PRIVATE ${_compile})
    # PUBLIC: a static/object library passes the runtime on to whoever links it.
    target_link_options(${tgt} PUBLIC ${_link})
  endif()
endfunction()

# Environment for running sanitized test executables (used by SpdecTesting).
set(SPDEC_SANITIZER_TEST_ENV
    "ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:abort_on_error=0"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
