// Canonical formatting of `.spde` source (`spdec fmt`): idempotent, keeps
// comments, and round-trips: parse(format(m)) has the same AST as m.
#pragma once

#include <string>

#include "lang/ast.hpp"

namespace spdec::lang {

/// The canonical text of a parsed module, comments included.
[[nodiscard]] std::string format(const ast::Module& module);

}  // namespace spdec::lang
