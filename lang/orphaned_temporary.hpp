// Telling a killed writer's temporary files from a live one's. The names
// come from lang::write_file_atomically (".tmp-<pid>-<n>.<name>") and the
// kernel cache's build directories (".tmp-<pid>-XXXXXX"); the run directory
// and the kernel cache remove such leftovers when they are opened.
#pragma once

#include <string_view>

namespace spdec::lang {

/// True when `name` is a temporary of spdec's writers (".tmp-<pid>-…") whose
/// writer is gone from this machine: no process has that pid (kill(pid, 0)
/// says ESRCH). A pid taken again by another process keeps the name (it is
/// then merely left); a writer on another machine sharing the directory is
/// not seen, so callers add what rules that out (the run directory's lock,
/// an age).
[[nodiscard]] bool is_orphaned_temporary(std::string_view name);

}  // namespace spdec::lang
