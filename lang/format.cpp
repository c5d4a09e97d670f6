// The canonical form of a `.spde` module (`spdec fmt`).
//
// Rules (specs/LANGUAGE.md §21 describes them for users):
//
// Statements. One per line, in source order, as `KEYWORD ...` with single
// spaces: `param NAME = E`, `schedule NAME(t) = E`,
// `schedule NAME(t) = learnable knots(N) init E`, `NAME(a, b) = E`,
// `drift = E`, `diffusion = E`, `noise correlation_length = E, filter(k) = E`
// (items in source order), `boundary neumann`, `boundary dirichlet E`,
// `time T = E, t0 = E, dt = E, taming = E|off` (items in source order),
// `semantics|channels|scheme|gradient WORD`. Words are kept as written.
//
// Expressions. Spaces around binary operators except `^`; none after a
// unary operator; `f(a, b)` calls; numbers exactly as written; parentheses
// only where the grammar needs them (see operand_levels).
//
// Blank lines. One blank line wherever the source had one or more blank
// lines between two items (statements or own-line comments); none at the
// start or end; the file ends with one newline (an empty module is empty).
//
// Comments. Written `#` + one space + text, except that the text is kept
// as is when it is empty or starts with a blank or `#` (so `#   indented`,
// `## Section` and `#####` stay). A comment alone on its line stays on its
// own line, where it was. A comment after the end of a statement on the same
// line stays there, two spaces after the code. A comment inside a statement
// (between its tokens) is written on its own line right after the statement:
// the statement becomes one line, and the comment must not be lost.
//
// Alignment. A *run* is a maximal sequence of statement lines of the same
// group, one after the other in the output, with no blank line and no comment
// line between them. The groups: `param`; `schedule`; function definitions;
// `drift`/`diffusion`; the options `noise`, `boundary`, `time`, `semantics`,
// `channels`, `scheme`, `gradient` (`process` is in no group). In a run the
// part before ` = ` (`param NAME`, `schedule NAME(t)`, `NAME(a, b)`,
// `drift`) or, for options, the keyword is padded with spaces to the widest
// in the run, so the `=` signs (option values) line up. Trailing comments in
// a run start in one column: two spaces after the longest code among the
// lines of the run that have one. Runs are read off the output itself, so
// formatting the output again finds the same runs (idempotence).
#include "lang/format.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "lang/diagnostics.hpp"
#include "lang/ops.hpp"
#include "lang/overloaded.hpp"

namespace spdec::lang {

namespace {

// --- expressions --------------------------------------------------------------

// Binding strength, loosest first, as in grammar.hpp (the op table's).
constexpr int level_of(Precedence p) { return static_cast<int>(p); }
constexpr int kCompare = level_of(Precedence::comparison);
constexpr int kSum = level_of(Precedence::sum);
constexpr int kUnary = level_of(Precedence::unary);
constexpr int kPower = level_of(Precedence::power);
constexpr int kPrimary = level_of(Precedence::primary);

int binary_level(ast::BinaryOp op) { return level_of(op_info(operation_of(op)).precedence); }

int level(const ast::Expr& e) {
  if (const auto* binary = std::get_if<ast::Binary>(&e.node)) {
    return binary_level(binary->op);
  }
  return std::holds_alternative<ast::Unary>(e.node) ? kUnary : kPrimary;
}

/// The loosest level each operand of `op` may have and still be read back
/// as that operand without parentheses: exactly what the grammar accepts.
struct OperandLevels {
  int lhs;
  int rhs;
};

OperandLevels operand_levels(ast::BinaryOp op) {
  const int own = binary_level(op);
  if (own == kPower) {
    return {kPrimary, kUnary};  // `(a^b)^c`, `(-x)^2`; but `a^b^c`, `x^-2`
  }
  if (own == kCompare) {
    return {kSum, kSum};  // non-associative: `(a < b) == c`
  }
  return {own, own + 1};  // left-associative: `a - b - c`, `a - (b - c)`
}

const ast::Expr& require(const ast::ExprPtr& e) {
  if (!e) {
    internal_error("format: a syntax tree with a missing expression");
  }
  return *e;
}

void write_expr(std::string& out, const ast::Expr& e);

void write_operand(std::string& out, const ast::Expr& e, int min_level) {
  if (level(e) >= min_level) {
    write_expr(out, e);
    return;
  }
  out += '(';
  write_expr(out, e);
  out += ')';
}

/// `a + b + c + ...` is a left-leaning tree as deep as the chain is long
/// (the parser's nesting limit does not count it), so the left spine is
/// walked in a loop; only operands that nest in the source recurse.
void write_binary(std::string& out, const ast::Expr& e) {
  std::vector<const ast::Binary*> spine{&std::get<ast::Binary>(e.node)};
  for (;;) {
    const ast::Expr& lhs = require(spine.back()->lhs);
    const auto* inner = std::get_if<ast::Binary>(&lhs.node);
    if (inner == nullptr || level(lhs) < operand_levels(spine.back()->op).lhs) {
      break;
    }
    spine.push_back(inner);
  }
  write_operand(out, require(spine.back()->lhs), operand_levels(spine.back()->op).lhs);
  for (auto it = spine.rbegin(); it != spine.rend(); ++it) {
    const ast::Binary& b = **it;
    if (b.op == ast::BinaryOp::pow) {
      out += '^';
    } else {
      out += ' ';
      out += ast::spelling(b.op);
      out += ' ';
    }
    write_operand(out, require(b.rhs), operand_levels(b.op).rhs);
  }
}

void write_expr(std::string& out, const ast::Expr& e) {
  std::visit(overloaded{[&](const ast::Number& n) { out += n.text; },
                        [&](const ast::NameRef& n) { out += n.name; },
                        [&](const ast::Call& c) {
                          out += c.callee.name;
                          out += '(';
                          for (std::size_t i = 0; i < c.args.size(); ++i) {
                            out += i > 0 ? ", " : "";
                            write_expr(out, require(c.args[i]));
                          }
                          out += ')';
                        },
                        [&](const ast::Unary& u) {
                          out += ast::spelling(u.op);
                          write_operand(out, require(u.operand), kUnary);
                        },
                        [&](const ast::Binary&) { write_binary(out, e); }},
             e.node);
}

std::string expr_text(const ast::ExprPtr& e) {
  std::string out;
  write_expr(out, require(e));
  return out;
}

// --- statements -----------------------------------------------------------------

/// Statements whose lines align with their neighbours of the same group.
enum class Group { none, param, schedule, function, equation, option };

/// A statement as one line: head + separator + tail. Alignment pads the head.
struct Line {
  Group group = Group::none;
  std::string head;       ///< `param size`, `schedule a(t)`, `g(t, x)`, `drift`, `noise`
  std::string separator;  ///< " = ", " " (options) or "" (`process NAME`)
  std::string tail;
};

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    out += i > 0 ? ", " : "";
    out += parts[i];
  }
  return out;
}

Line schedule_line(const ast::ScheduleDecl& s) {
  Line line{Group::schedule, "schedule " + s.name.name + "(" + s.variable.name + ")", " = ", ""};
  if (s.learnable) {
    line.tail =
        "learnable knots(" + s.learnable->count.text + ") init " + expr_text(s.learnable->init);
  } else {
    line.tail = expr_text(s.body);
  }
  return line;
}

Line function_line(const ast::FunctionDecl& f) {
  std::vector<std::string> params;
  params.reserve(f.params.size());
  for (const ast::Identifier& p : f.params) {
    params.push_back(p.name);
  }
  return {Group::function, f.name.name + "(" + join(params) + ")", " = ", expr_text(f.body)};
}

/// Items in source order: the tree keeps them by kind, their spans say where.
Line noise_line(const ast::NoiseDecl& n) {
  std::vector<std::string> items;
  if (n.correlation_length) {
    items.push_back("correlation_length = " + expr_text(n.correlation_length));
  }
  if (n.filter) {
    std::string filter = "filter(" + n.filter->variable.name + ") = " + expr_text(n.filter->body);
    const bool filter_first =
        n.correlation_length && n.filter->variable.span.begin < n.correlation_length_key.begin;
    items.insert(filter_first ? items.begin() : items.end(), std::move(filter));
  }
  return {Group::option, "noise", " ", join(items)};
}

Line time_line(const ast::TimeDecl& t) {
  std::vector<std::string> items;
  items.reserve(t.items.size());
  for (const ast::TimeItem& item : t.items) {
    items.push_back(item.key.name + " = " + (item.value ? expr_text(item.value) : "off"));
  }
  return {Group::option, "time", " ", join(items)};
}

Line statement_line(const ast::StatementNode& node) {
  return std::visit(
      overloaded{[](const ast::ProcessDecl& d) {
                   return Line{Group::none, "process " + d.name.name, "", ""};
                 },
                 [](const ast::ParamDecl& d) {
                   return Line{Group::param, "param " + d.name.name, " = ", expr_text(d.value)};
                 },
                 [](const ast::ScheduleDecl& d) { return schedule_line(d); },
                 [](const ast::FunctionDecl& d) { return function_line(d); },
                 [](const ast::DriftDecl& d) {
                   return Line{Group::equation, "drift", " = ", expr_text(d.value)};
                 },
                 [](const ast::DiffusionDecl& d) {
                   return Line{Group::equation, "diffusion", " = ", expr_text(d.value)};
                 },
                 [](const ast::NoiseDecl& d) { return noise_line(d); },
                 [](const ast::BoundaryDecl& d) {
                   return Line{Group::option, "boundary", " ",
                               d.kind.name + (d.value ? " " + expr_text(d.value) : "")};
                 },
                 [](const ast::TimeDecl& d) { return time_line(d); },
                 [](const ast::OptionDecl& d) {
                   return Line{Group::option, d.keyword.name, " ", d.value.name};
                 }},
      node);
}

// --- layout: statements, comments and blank lines ---------------------------------

/// One output line (or, for a statement, one line plus the comments that
/// stood inside it). Lines are 1-based source lines.
struct Item {
  const ast::Comment* comment = nullptr;  ///< an own-line comment, or
  const ast::Statement* statement = nullptr;
  Line line;
  const ast::Comment* trailing = nullptr;   ///< after the statement, same line
  std::vector<const ast::Comment*> inside;  ///< between the statement's tokens
  std::size_t first_line = 0;
  std::size_t last_line = 0;
  bool blank_before = false;
  std::size_t head_width = 0;      ///< after alignment
  std::size_t comment_column = 0;  ///< where a trailing comment starts
};

std::size_t line_of(const SourceFile& file, std::uint32_t offset) {
  return file.line_column(offset).line;
}

/// The line of a span's last byte (a span ends just after it).
std::size_t last_line_of(const SourceFile& file, Span span) {
  return line_of(file, span.end > span.begin ? span.end - 1 : span.begin);
}

Item statement_item(const SourceFile& file, const ast::Statement& s) {
  Item item;
  item.statement = &s;
  item.line = statement_line(s.node);
  item.first_line = line_of(file, s.span.begin);
  item.last_line = last_line_of(file, s.span);
  return item;
}

Item comment_item(const SourceFile& file, const ast::Comment& c) {
  Item item;
  item.comment = &c;
  item.first_line = item.last_line = line_of(file, c.span.begin);
  return item;
}

std::vector<const ast::Comment*> comments_in_order(const ast::Module& module) {
  std::vector<const ast::Comment*> comments;
  comments.reserve(module.comments.size());
  for (const ast::Comment& c : module.comments) {
    comments.push_back(&c);
  }
  std::stable_sort(comments.begin(), comments.end(),
                   [](const auto* a, const auto* b) { return a->span.begin < b->span.begin; });
  return comments;
}

/// Statements and own-line comments in source order; every other comment is
/// attached to the statement it sits in (inside) or after (trailing).
std::vector<Item> collect_items(const ast::Module& module, const SourceFile& file) {
  std::vector<Item> items;
  items.reserve(module.statements.size() + module.comments.size());
  std::size_t last_statement = SIZE_MAX;  // none yet (0 would point at a comment item)
  std::size_t next = 0;
  const auto flush_statements_before = [&](std::uint32_t offset) {
    while (next < module.statements.size() && module.statements[next].span.begin <= offset) {
      last_statement = items.size();
      items.push_back(statement_item(file, module.statements[next++]));
    }
  };
  for (const ast::Comment* c : comments_in_order(module)) {
    flush_statements_before(c->span.begin);
    Item* owner = last_statement < items.size() ? &items[last_statement] : nullptr;
    const bool after_owner = owner != nullptr && items.size() == last_statement + 1;
    if (after_owner && c->span.begin < owner->statement->span.end) {
      owner->inside.push_back(c);
    } else if (after_owner && owner->trailing == nullptr &&
               line_of(file, c->span.begin) == owner->last_line) {
      owner->trailing = c;
    } else {
      items.push_back(comment_item(file, *c));
    }
  }
  flush_statements_before(static_cast<std::uint32_t>(-1));
  return items;
}

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

/// A blank line goes before an item when the source has at least one
/// whitespace-only line between it and the previous item.
void mark_blank_lines(std::vector<Item>& items, const SourceFile& file) {
  for (std::size_t i = 1; i < items.size(); ++i) {
    for (std::size_t line = items[i - 1].last_line + 1; line < items[i].first_line; ++line) {
      if (is_blank(file.line_text(line))) {
        items[i].blank_before = true;
        break;
      }
    }
  }
}

/// Whether item i continues the alignment run of item i - 1 (see the top).
bool continues_run(const std::vector<Item>& items, std::size_t i) {
  if (i == 0 || items[i].statement == nullptr || items[i].blank_before) {
    return false;
  }
  const Item& previous = items[i - 1];
  return previous.statement != nullptr && previous.inside.empty() &&
         previous.line.group == items[i].line.group && items[i].line.group != Group::none;
}

void align_run(std::vector<Item>& items, std::size_t begin, std::size_t end) {
  std::size_t head = 0;
  for (std::size_t i = begin; i < end; ++i) {
    head = std::max(head, items[i].line.head.size());
  }
  std::size_t column = 0;
  for (std::size_t i = begin; i < end; ++i) {
    Item& item = items[i];
    item.head_width = head;
    if (item.trailing != nullptr) {
      column = std::max(column, head + item.line.separator.size() + item.line.tail.size() + 2);
    }
  }
  for (std::size_t i = begin; i < end; ++i) {
    items[i].comment_column = column;
  }
}

void align(std::vector<Item>& items) {
  std::size_t begin = 0;
  for (std::size_t i = 1; i <= items.size(); ++i) {
    if (i == items.size() || !continues_run(items, i)) {
      align_run(items, begin, i);
      begin = i;
    }
  }
}

void pad_to(std::string& out, std::size_t line_start, std::size_t column) {
  const std::size_t width = out.size() - line_start;
  out.append(column > width ? column - width : 0, ' ');
}

void write_item(std::string& out, const Item& item) {
  if (item.comment != nullptr) {
    out += format_comment(item.comment->text) + "\n";
    return;
  }
  const std::size_t start = out.size();
  out += item.line.head;
  if (!item.line.separator.empty()) {
    pad_to(out, start, item.head_width);
    out += item.line.separator + item.line.tail;
  }
  if (item.trailing != nullptr) {
    pad_to(out, start, item.comment_column);
    out += format_comment(item.trailing->text);
  }
  out += '\n';
  for (const ast::Comment* c : item.inside) {
    out += format_comment(c->text) + "\n";
  }
}

}  // namespace

std::string format_expr(const ast::Expr& expr) {
  std::string out;
  write_expr(out, expr);
  return out;
}

std::string format_comment(std::string_view text) {
  const bool keep =
      text.empty() || text.front() == ' ' || text.front() == '\t' || text.front() == '#';
  return (keep ? "#" : "# ") + std::string(text);
}

std::string format(const ast::Module& module) {
  // Without a source buffer (a tree built by hand) there are no lines to
  // read: every item is then on line 1 and no blank lines are kept.
  static const SourceFile no_source("", "");
  const SourceFile& file = module.file ? *module.file : no_source;
  std::vector<Item> items = collect_items(module, file);
  mark_blank_lines(items, file);
  align(items);
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0 && items[i].blank_before) {
      out += '\n';
    }
    write_item(out, items[i]);
  }
  return out;
}

}  // namespace spdec::lang
