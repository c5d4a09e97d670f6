# spdec_target_warnings(<target>)
#
# Applies spdec's warning set to one of *our* targets (never to a dependency).
# With -DSPDEC_WERROR=ON the warnings become errors. Dependencies reach our
# targets only through imported targets or spdec_mark_system(), so their headers
# are included with -isystem and can never fail our build.
include_guard(GLOBAL)

set(SPDEC_WARNING_FLAGS
    -Wall
    -Wextra
    -Wpedantic
    -Wshadow
    -Wnon-virtual-dtor
    -Wold-style-cast
    -Wcast-align
    -Woverloaded-virtual
    -Wdouble-promotion
    -Wformat=2
    -Wimplicit-fallthrough)

function(spdec_target_warnings tgt)
  if(NOT TARGET ${tgt})
    message(FATAL_ERROR "spdec_target_warnings: no target named '${tgt}'")
  endif()
  get_target_property(_type ${tgt} TYPE)
  if(_type STREQUAL "INTERFACE_LIBRARY")
    return()  # nothing is compiled for an interface library
  endif()
  set(_flags ${SPDEC_WARNING_FLAGS})
  # -Wnull-dereference: clang's is a reliable front-end check. GCC's (12) runs
  # after inlining and reports false positives inside libstdc++ code inlined
  # from dependency headers (e.g. CLI11's string splitting), which no -isystem
  # can silence, so GCC builds leave it out.
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    list(APPEND _flags -Wnull-dereference)
  endif()
  if(SPDEC_WERROR)
    list(APPEND _flags -Werror)
  endif()
  target_compile_options(${tgt} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:${_flags}>")
endfunction()

# spdec_mark_system(<target>...)
#
# Makes sure the include directories of the given (dependency) targets are
# consumed as system includes (-isystem). Imported targets already are by
# default; this also covers targets we create ourselves and guards against a
# dependency that sets IMPORTED_NO_SYSTEM. Unknown names are ignored.
function(spdec_mark_system)
  foreach(_t IN LISTS ARGN)
    if(TARGET ${_t})
      get_target_property(_aliased ${_t} ALIASED_TARGET)
      if(_aliased)
        set(_t ${_aliased})
      endif()
      set_property(TARGET ${_t} PROPERTY SYSTEM ON)
    endif()
  endforeach()
endfunction()
