// The reason an OS call failed, for messages that name a file and its
// cause: one spelling for the front end, the JIT and the runtime.
// Header-only, like lang/hash.hpp, so that codegen/jit can use it too.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace spdec::lang {

/// What an errno value says, e.g. "Permission denied" (thread-safe, unlike
/// std::strerror).
[[nodiscard]] inline std::string errno_text(int code) {
  return std::error_code(code, std::generic_category()).message();
}

/// errno_text(errno): call it right after the failed call, before another
/// one can change errno.
[[nodiscard]] inline std::string os_reason() { return errno_text(errno); }

}  // namespace spdec::lang
