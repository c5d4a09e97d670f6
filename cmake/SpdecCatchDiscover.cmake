# Script mode (cmake -P), run after each build of a Catch2 (v2) test executable
# by spdec_add_catch_test(): lists its test cases and writes a CTest file with
# one test per case. Unlike Catch's own catch_discover_tests, every name is
# passed to Catch quoted and escaped, so names that start with '-' (read as an
# option otherwise) or contain ',' '[' ']' '"' '\' run exactly their own case,
# and list-valued properties (LABELS, ENVIRONMENT) keep their lists.
#
# Inputs (-D): TEST_EXECUTABLE, TEST_PREFIX, TEST_WORKING_DIR, TEST_TIMEOUT,
#              TEST_LABELS, TEST_ENVIRONMENT (lists), TEST_PROPERTIES (name;value
#              pairs, single values), CTEST_FILE (output).
cmake_minimum_required(VERSION 3.25)

# A CMake bracket argument holding `text` verbatim, whatever it contains.
function(_spdec_bracket out text)
  set(eq "=")
  while(text MATCHES "\\]${eq}\\]")
    string(APPEND eq "=")
  endwhile()
  set(${out} "[${eq}[${text}]${eq}]" PARENT_SCOPE)
endfunction()

if(NOT EXISTS "${TEST_EXECUTABLE}")
  message(FATAL_ERROR "spdec: test executable '${TEST_EXECUTABLE}' does not exist")
endif()

execute_process(
  COMMAND "${TEST_EXECUTABLE}" --list-test-names-only
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors
  RESULT_VARIABLE result
  WORKING_DIRECTORY "${TEST_WORKING_DIR}"
  TIMEOUT 120)
# Catch exits with the number of tests listed; anything else is a crash.
if(NOT result MATCHES "^[0-9]+$")
  message(FATAL_ERROR "spdec: listing the tests of '${TEST_EXECUTABLE}' failed (${result}):\n"
                      "${output}\n${errors}")
endif()

# Split into lines without CMake's list syntax getting in the way
# (';' separates, '[' ... ']' would glue lines together).
string(REPLACE ";" "<spdec-semicolon>" output "${output}")
string(REPLACE "[" "<spdec-lbracket>" output "${output}")
string(REPLACE "]" "<spdec-rbracket>" output "${output}")
string(REPLACE "\r" "" output "${output}")
string(REPLACE "\n" ";" lines "${output}")

_spdec_bracket(exe_arg "${TEST_EXECUTABLE}")
_spdec_bracket(workdir_arg "${TEST_WORKING_DIR}")
_spdec_bracket(labels_arg "${TEST_LABELS}")
_spdec_bracket(env_arg "${TEST_ENVIRONMENT}")
set(extra_props "")
set(_key "")
foreach(_item IN LISTS TEST_PROPERTIES)
  if(_key STREQUAL "")
    set(_key "${_item}")
  else()
    _spdec_bracket(_value "${_item}")
    string(APPEND extra_props " ${_key} ${_value}")
    set(_key "")
  endif()
endforeach()

set(script "")
set(count 0)
foreach(line IN LISTS lines)
  string(REPLACE "<spdec-semicolon>" ";" line "${line}")
  string(REPLACE "<spdec-lbracket>" "[" line "${line}")
  string(REPLACE "<spdec-rbracket>" "]" line "${line}")
  if(line STREQUAL "")
    continue()
  endif()
  # Catch test spec: a quoted name, with \ , " [ ] escaped.
  set(spec "${line}")
  foreach(ch "\\" "," "\"" "[" "]")
    string(REPLACE "${ch}" "\\${ch}" spec "${spec}")
  endforeach()
  _spdec_bracket(name_arg "${TEST_PREFIX}${line}")
  _spdec_bracket(spec_arg "\"${spec}\"")
  string(APPEND script
    "add_test(${name_arg} ${exe_arg} ${spec_arg})\n"
    "set_tests_properties(${name_arg} PROPERTIES WORKING_DIRECTORY ${workdir_arg}"
    " TIMEOUT ${TEST_TIMEOUT} LABELS ${labels_arg} ENVIRONMENT ${env_arg}"
    # Catch exits 0 when a spec matches no test case: make that a failure.
    " FAIL_REGULAR_EXPRESSION [=[No test cases matched]=]${extra_props})\n")
  math(EXPR count "${count} + 1")
endforeach()

if(count EQUAL 0)
  message(WARNING "spdec: test executable '${TEST_EXECUTABLE}' contains no tests")
endif()
file(WRITE "${CTEST_FILE}" "${script}")
