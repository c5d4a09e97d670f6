// Parser entry point: text -> ast::Module, or diagnostics.
#pragma once

#include <optional>
#include <string>

#include "lang/ast.hpp"
#include "lang/diagnostics.hpp"
#include "lang/source.hpp"

namespace spdec::lang {

/// Parses a whole file. Syntax errors are reported (several per file: the
/// parser resumes at the next line that starts a statement) and yield
/// nullopt; a module with no syntax errors is returned even if empty.
[[nodiscard]] std::optional<ast::Module> parse(const SourcePtr& file, Diagnostics& diagnostics);

/// Parses a single expression (used for `--param NAME=VALUE` overrides).
[[nodiscard]] ast::ExprPtr parse_expression(const SourcePtr& file, Diagnostics& diagnostics);

/// Reads a file as a source buffer; reports E006/E007 (and unreadable
/// files) and returns null on failure.
[[nodiscard]] SourcePtr load_source(const std::string& path, Diagnostics& diagnostics);
/// Checks text already in memory the same way (size, NUL, UTF-8).
[[nodiscard]] bool validate_source_text(const SourcePtr& file, Diagnostics& diagnostics);

}  // namespace spdec::lang
