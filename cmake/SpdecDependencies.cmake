# Finds spdec's (header-only or small) dependencies and gives each one target
# name that works both on Debian (packages installed by tools/setup.sh) and on
# a machine without a package registry, where tools/prepare_offline_deps.sh
# has prepared a folder passed as -DSPDEC_DEPS_DIR=<dir> (searched first).
#
# Targets to link (all consumed as system includes):
#   taocpp::pegtl                  PEGTL 3.x
#   CLI11::CLI11                   CLI11
#   nlohmann_json::nlohmann_json   nlohmann/json 3
#   Catch2::Catch2                 Catch2 2.x (tests only; include(Catch) done)
#   spdec::fmt                     fmt::fmt, or header-only fmt (FMT_HEADER_ONLY)
#   spdec::toml                    tomlplusplus::tomlplusplus, or header-only toml++
#   spdec::stb                     stb headers: #include <stb_image.h>; define
#                                  STB_IMAGE_IMPLEMENTATION etc. in ONE .cpp
#   spdec::random123               Random123 headers: #include <Random123/philox.h>
#   ZLIB::ZLIB                     zlib (CMake's FindZLIB; Debian zlib1g-dev): gzip'd IDX
# Variables: SPDEC_RANDOM123_INCLUDE_DIR, SPDEC_STB_INCLUDE_DIR (also written
# to build_info.hpp: the JIT compiles generated code against Random123).
include_guard(GLOBAL)
include(SpdecWarnings)

if(SPDEC_DEPS_DIR)
  get_filename_component(SPDEC_DEPS_DIR "${SPDEC_DEPS_DIR}" ABSOLUTE BASE_DIR "${PROJECT_SOURCE_DIR}")
  if(NOT IS_DIRECTORY "${SPDEC_DEPS_DIR}/include")
    message(FATAL_ERROR "SPDEC_DEPS_DIR=${SPDEC_DEPS_DIR} has no include/ folder; "
                        "make it with tools/prepare_offline_deps.sh ${SPDEC_DEPS_DIR}")
  endif()
  list(PREPEND CMAKE_PREFIX_PATH "${SPDEC_DEPS_DIR}")
  message(STATUS "spdec: dependencies are searched first in ${SPDEC_DEPS_DIR}")
endif()

# Create an imported, global, header-only target (imported => system includes).
function(_spdec_header_only_target name include_dir)
  add_library(${name} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${include_dir}")
  if(ARGN)
    set_target_properties(${name} PROPERTIES INTERFACE_COMPILE_DEFINITIONS "${ARGN}")
  endif()
endfunction()

# --- PEGTL, CLI11, nlohmann_json: relocatable CMake configs ------------------
find_package(pegtl 3.2 CONFIG QUIET REQUIRED)
find_package(CLI11 2 CONFIG QUIET REQUIRED)
find_package(nlohmann_json 3.2 CONFIG QUIET REQUIRED)

# --- fmt ----------------------------------------------------------------------
find_package(fmt CONFIG QUIET)
if(TARGET fmt::fmt)
  add_library(spdec::fmt ALIAS fmt::fmt)
  set(_spdec_fmt_how "fmt::fmt ${fmt_VERSION}")
else()
  find_path(SPDEC_FMT_INCLUDE_DIR fmt/format.h HINTS "${SPDEC_DEPS_DIR}/include")
  if(NOT SPDEC_FMT_INCLUDE_DIR)
    message(FATAL_ERROR "fmt not found: apt-get install libfmt-dev, or -DSPDEC_DEPS_DIR=<dir>")
  endif()
  _spdec_header_only_target(spdec::fmt "${SPDEC_FMT_INCLUDE_DIR}" FMT_HEADER_ONLY=1)
  set(_spdec_fmt_how "header-only fmt in ${SPDEC_FMT_INCLUDE_DIR}")
endif()

# --- toml++ -------------------------------------------------------------------
# Debian's config points at its shared library; elsewhere use the headers alone.
find_package(tomlplusplus 3 CONFIG QUIET)
if(TARGET tomlplusplus::tomlplusplus)
  add_library(spdec::toml ALIAS tomlplusplus::tomlplusplus)
  set(_spdec_toml_how "tomlplusplus::tomlplusplus ${tomlplusplus_VERSION}")
else()
  find_path(SPDEC_TOML_INCLUDE_DIR toml++/toml.h HINTS "${SPDEC_DEPS_DIR}/include")
  if(NOT SPDEC_TOML_INCLUDE_DIR)
    message(FATAL_ERROR "toml++ not found: apt-get install libtomlplusplus-dev, or -DSPDEC_DEPS_DIR=<dir>")
  endif()
  _spdec_header_only_target(spdec::toml "${SPDEC_TOML_INCLUDE_DIR}" TOML_HEADER_ONLY=1)
  set(_spdec_toml_how "header-only toml++ in ${SPDEC_TOML_INCLUDE_DIR}")
endif()

# --- stb and Random123: headers without CMake configs ---------------------------
find_path(SPDEC_STB_INCLUDE_DIR stb_image.h
          HINTS "${SPDEC_DEPS_DIR}/include/stb" PATH_SUFFIXES stb)
if(SPDEC_STB_INCLUDE_DIR)
  _spdec_header_only_target(spdec::stb "${SPDEC_STB_INCLUDE_DIR}")
endif()
find_path(SPDEC_RANDOM123_INCLUDE_DIR Random123/philox.h HINTS "${SPDEC_DEPS_DIR}/include")
if(SPDEC_RANDOM123_INCLUDE_DIR)
  _spdec_header_only_target(spdec::random123 "${SPDEC_RANDOM123_INCLUDE_DIR}")
endif()

# --- zlib (the runtime reads gzip-compressed IDX files) ------------------------
# Found here, at the top level, so that ZLIB::ZLIB is visible to every target
# that links spdec_runtime.
find_package(ZLIB QUIET)

# --- Catch2 (tests) -------------------------------------------------------------
if(BUILD_TESTING)
  find_package(Catch2 2 CONFIG QUIET REQUIRED)
  include(Catch)  # catch_discover_tests; Catch2's config put it on CMAKE_MODULE_PATH
endif()

spdec_mark_system(taocpp::pegtl CLI11::CLI11 nlohmann_json::nlohmann_json Catch2::Catch2
                  fmt::fmt tomlplusplus::tomlplusplus)

set(_spdec_missing "")
foreach(_dep IN ITEMS stb random123)
  if(NOT TARGET spdec::${_dep})
    string(APPEND _spdec_missing " ${_dep}")
  endif()
endforeach()
if(_spdec_missing)
  set(_spdec_missing "; not found:${_spdec_missing}")
endif()
message(STATUS "spdec: pegtl ${pegtl_VERSION}, CLI11 ${CLI11_VERSION}, nlohmann_json "
               "${nlohmann_json_VERSION}, ${_spdec_fmt_how}, ${_spdec_toml_how}${_spdec_missing}")
