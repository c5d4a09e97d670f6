// The reason an OS call failed, for messages that name a file and its cause.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace spdec::runtime {

/// What errno says, e.g. "Permission denied": call it right after the
/// failed call, before another one can change errno.
inline std::string os_reason() { return std::error_code(errno, std::generic_category()).message(); }

}  // namespace spdec::runtime
