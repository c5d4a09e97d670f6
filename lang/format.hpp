// Canonical formatting of `.spde` source (`spdec fmt`): idempotent, keeps
// comments, and round-trips: parse(format(m)) has the same AST as m.
#pragma once

#include <string>
#include <string_view>

#include "lang/ast.hpp"

namespace spdec::lang {

/// The canonical text of a parsed module, comments included.
[[nodiscard]] std::string format(const ast::Module& module);

/// One expression in canonical form: minimal parentheses, spaces around
/// binary operators except `^`, numbers as written.
[[nodiscard]] std::string format_expr(const ast::Expr& expr);

/// A comment as `fmt` writes it, from its text without the marker: `#`, then
/// one space unless the text is empty or already starts with a blank or `#`.
[[nodiscard]] std::string format_comment(std::string_view text);

}  // namespace spdec::lang
