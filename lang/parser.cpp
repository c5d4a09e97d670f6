#include "lang/parser.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>
#include <tao/pegtl/contrib/limit_depth.hpp>
#include <tao/pegtl/contrib/parse_tree.hpp>
#include <utility>
#include <vector>

#include "lang/grammar.hpp"
#include "lang/grammar_errors.hpp"
#include "lang/number.hpp"
#include "lang/os_reason.hpp"

namespace spdec::lang {

namespace {

namespace p = tao::pegtl;
namespace g = grammar;
using Node = p::parse_tree::node;

// clang-format off
template <typename Rule>
using selector = p::parse_tree::selector<
    Rule,
    p::parse_tree::store_content::on<
        g::number, g::name_ref, g::callee, g::call_close, g::function_name, g::decl_name,
        g::schedule_variable, g::function_param, g::filter_variable, g::option_word,
        g::kw_T, g::kw_t0, g::kw_dt, g::kw_taming, g::kw_off, g::kw_neumann, g::kw_periodic,
        g::kw_dirichlet, g::kw_correlation_length, g::kw_filter,
        g::op_or, g::op_and, g::op_eq, g::op_ne, g::op_le, g::op_ge, g::op_lt, g::op_gt,
        g::op_add, g::op_sub, g::op_mul, g::op_div, g::op_pow, g::op_neg, g::op_plus, g::op_not,
        g::call, g::prefixed,
        g::process_decl, g::param_decl, g::schedule_decl, g::learnable_spec, g::function_decl,
        g::drift_decl, g::diffusion_decl, g::noise_decl, g::correlation_item, g::filter_item,
        g::boundary_decl, g::dirichlet_kind, g::time_decl, g::time_item, g::semantics_decl,
        g::channels_decl, g::scheme_decl, g::gradient_decl>,
    p::parse_tree::fold_one::on<
        g::expr, g::argument, g::operand, g::operand_sum, g::operand_cmp, g::operand_and,
        g::operand_or, g::power, g::product, g::sum, g::comparison, g::conjunction,
        g::disjunction>>;
// clang-format on

template <typename Rule>
struct depth_action : p::nothing<Rule> {};
template <>
struct depth_action<g::unary> : p::limit_depth<g::kMaxNesting> {};
template <>
struct depth_action<g::operand> : p::limit_depth<g::kMaxNesting> {};  // `- - - x` nests here

/// Deepest expression tree accepted. Parentheses and prefixes are limited
/// while parsing; this also bounds long operator chains (`a + a + ... + a`),
/// which every later pass walks recursively.
constexpr std::uint32_t kMaxTreeDepth = 1000;

constexpr std::size_t kMaxSyntaxErrors = 20;

struct CodedMessage {
  std::string code;
  std::string text;
};

CodedMessage split_message(std::string_view message) {
  const auto bar = message.find('|');
  if (bar == 4 && message.size() > 5 && (message[0] == 'E' || message[0] == 'W')) {
    return {std::string(message.substr(0, 4)), std::string(message.substr(5))};
  }
  if (message.find("nesting depth") != std::string_view::npos) {
    return {"E004", "expression nested too deeply (more than " + std::to_string(g::kMaxNesting) +
                        " levels)"};
  }
  return {"E001", std::string(message)};
}

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

std::string word_at(std::string_view text, std::size_t offset) {
  std::size_t end = offset;
  while (end < text.size() && is_word_char(text[end])) {
    ++end;
  }
  return std::string(text.substr(offset, end - offset));
}

Span token_span_at(std::string_view text, std::size_t offset) {
  std::size_t end = offset;
  while (end < text.size() && is_word_char(text[end])) {
    ++end;
  }
  if (end == offset && offset < text.size()) {
    end = offset + 1;
  }
  return {static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(end)};
}

/// Skips a comment starting at i (if any); returns the index after it.
std::size_t skip_comment(std::string_view text, std::size_t i) {
  const bool hash = text[i] == '#';
  const bool slashes = text[i] == '/' && i + 1 < text.size() && text[i + 1] == '/';
  if (!hash && !slashes) {
    return i;
  }
  while (i < text.size() && text[i] != '\n') {
    ++i;
  }
  return i;
}

/// The `(` that is never closed, scanning from `from` (ignoring comments).
std::optional<std::size_t> unclosed_paren(std::string_view text, std::size_t from) {
  std::vector<std::size_t> open;
  for (std::size_t i = from; i < text.size(); ++i) {
    const std::size_t after = skip_comment(text, i);
    if (after != i) {
      i = after;
      continue;
    }
    if (text[i] == '(') {
      open.push_back(i);
    } else if (text[i] == ')' && !open.empty()) {
      open.pop_back();
    }
  }
  if (open.empty()) {
    return std::nullopt;
  }
  return open.front();
}

const std::vector<std::string>& statement_keywords() {
  static const std::vector<std::string> keywords = {
      "process",  "param", "schedule",  "drift",    "diffusion", "noise",
      "boundary", "time",  "semantics", "channels", "scheme",    "gradient"};
  return keywords;
}

/// Turns a PEGTL parse_error into a positioned, coded diagnostic with a hint.
Diagnostic syntax_diagnostic(const SourcePtr& file, const p::parse_error& error,
                             std::size_t statement_begin) {
  const std::string_view text = file->text();
  const std::size_t at = std::min(
      error.positions().empty() ? statement_begin : error.positions().front().byte, text.size());
  auto [code, message] = split_message(error.message());
  Diagnostic d{Severity::error, code, file, token_span_at(text, at), message, {}};
  const char here = at < text.size() ? text[at] : '\0';
  if (at >= text.size()) {
    d.message += ", found the end of the file";
  } else if (code != "E004") {
    const std::string word = word_at(text, at);
    d.message += word.empty() ? ", found `" + std::string(1, here) + "`" : ", found `" + word + "`";
  }

  if (message.rfind("expected `,` or `)`", 0) == 0 || message == "expected `)`") {
    // Unbalanced when the expression ran into the end of the file or into the
    // next statement (a line start); otherwise something else stands there.
    const bool at_line_start =
        at >= text.size() || at == 0 || text[at - 1] == '\n' || file->line_column(at).column == 1;
    const auto open = unclosed_paren(text.substr(0, at), statement_begin);
    if (open && at_line_start) {
      d.code = "E003";
      d.span = {static_cast<std::uint32_t>(*open), static_cast<std::uint32_t>(*open + 1)};
      d.message = "this `(` is never closed";
      const LineColumn expected_at = file->line_column(at);
      d.hint = at >= text.size()
                   ? std::string("the file ends before its `)`")
                   : "a `)` was expected before line " + std::to_string(expected_at.line) +
                         ", column " + std::to_string(expected_at.column);
      return d;
    }
  }
  if (code == "E001" && here == ')') {
    d.code = "E003";
    d.message = "unmatched `)`";
    d.hint = "remove it, or add the `(` it closes";
    return d;
  }
  if (code == "E001" && message.rfind("expected a statement", 0) == 0) {
    const std::string word = word_at(text, at);
    const std::string guess = closest_match(word, statement_keywords());
    std::size_t after = at + word.size();
    while (after < text.size() && (text[after] == ' ' || text[after] == '\t')) {
      ++after;
    }
    if (!guess.empty()) {
      d.hint = "did you mean `" + guess + "`?";
    } else if (!word.empty() && after < text.size() && text[after] == '=') {
      d.hint =
          "a constant is written `param " + word + " = VALUE`, a function `" + word + "(t) = EXPR`";
    }
  } else if (code == "E002" && message.rfind("expected an operand", 0) == 0 && here == '*') {
    d.hint = "powers are written with `^`, e.g. x^2";
  } else if (code == "E002" && message == "expected `=`") {
    d.hint = "definitions are written NAME = VALUE";
  } else if (code == "E001" && message == "comparisons do not chain") {
    d.message = "comparisons do not chain";
    d.hint = "write (a < b) && (b < c)";
  } else if (code == "E004") {
    d.hint = "simplify the expression or split it into functions";
  }
  return d;
}

// --- parse tree -> AST --------------------------------------------------------

class Builder {
 public:
  Builder(SourcePtr file, Diagnostics& diagnostics)
      : file_(std::move(file)), diagnostics_(diagnostics) {}

  ast::Statement statement(const Node& n) {
    ast::Statement s;
    s.span = {offset_begin(n), content_end(n)};
    const std::string word = word_at(file_->text(), s.span.begin);
    s.keyword = {s.span.begin, static_cast<std::uint32_t>(s.span.begin + word.size())};
    s.node = statement_node(n);
    return s;
  }

  ast::ExprPtr expression(const Node& n) {
    ast::ExprPtr e = build_expression(n);
    std::uint32_t depth = 0;
    visit_children(*e, [&](const ast::Expr& child) { depth = std::max(depth, child.depth); });
    e->depth = depth + 1;
    if (e->depth == kMaxTreeDepth + 1) {
      diagnostics_.error("E004", file_, e->span,
                         "expression nested too deeply (more than " +
                             std::to_string(kMaxTreeDepth) + " levels of operators)",
                         "split it into functions or parameters");
    }
    return e;
  }

  template <typename F>
  static void visit_children(const ast::Expr& e, F&& f) {
    if (const auto* call = std::get_if<ast::Call>(&e.node)) {
      for (const auto& a : call->args) {
        f(*a);
      }
    } else if (const auto* u = std::get_if<ast::Unary>(&e.node)) {
      f(*u->operand);
    } else if (const auto* b = std::get_if<ast::Binary>(&e.node)) {
      f(*b->lhs);
      f(*b->rhs);
    }
  }

  ast::ExprPtr build_expression(const Node& n) {
    auto e = std::make_unique<ast::Expr>();
    if (n.is_type<g::number>()) {
      e->span = span(n);
      e->node = number(n);
    } else if (n.is_type<g::name_ref>()) {
      e->span = span(n);
      e->node = ast::NameRef{n.string()};
    } else if (n.is_type<g::call>()) {
      ast::Call call;
      call.callee = identifier(*n.children.front());
      for (std::size_t i = 1; i + 1 < n.children.size(); ++i) {
        call.args.push_back(expression(*n.children[i]));
      }
      e->span = {offset_begin(n), content_end(n)};
      e->node = std::move(call);
    } else if (n.is_type<g::prefixed>()) {
      ast::Unary unary{unary_op(*n.children.at(0)), expression(*n.children.at(1))};
      e->span = {offset_begin(n), unary.operand->span.end};
      e->node = std::move(unary);
    } else {
      return operator_chain(n);
    }
    return e;
  }

 private:
  SourcePtr file_;
  Diagnostics& diagnostics_;

  static std::uint32_t offset_begin(const Node& n) {
    return static_cast<std::uint32_t>(n.m_begin.byte);
  }
  static std::uint32_t offset_end(const Node& n) {
    return static_cast<std::uint32_t>(n.m_end.byte);
  }
  static Span span(const Node& n) { return {offset_begin(n), offset_end(n)}; }

  /// End of the last stored token below n: excludes trailing blanks and comments.
  static std::uint32_t content_end(const Node& n) {
    if (n.children.empty()) {
      return offset_end(n);
    }
    std::uint32_t end = offset_begin(n);
    for (const auto& child : n.children) {
      end = std::max(end, content_end(*child));
    }
    return end;
  }

  static ast::Identifier identifier(const Node& n) { return {n.string(), span(n)}; }

  ast::Number number(const Node& n) {
    const std::string text = n.string();
    const NumberLiteral literal = parse_number_literal(text);
    if (!literal.ok) {
      diagnostics_.error("E005", file_, span(n), literal.error, literal.hint);
    } else if (literal.octal) {
      diagnostics_.warning(
          "W104", file_, span(n),
          "`" + text + "` is an octal literal (C rules): it equals " +
              (literal.value < 9e18 ? std::to_string(static_cast<long long>(literal.value))
                                    : std::to_string(literal.value)),
          "drop the leading zero for a decimal number");
    }
    return {text, literal.value};
  }

  static ast::UnaryOp unary_op(const Node& n) {
    if (n.is_type<g::op_neg>()) {
      return ast::UnaryOp::negate;
    }
    if (n.is_type<g::op_plus>()) {
      return ast::UnaryOp::plus;
    }
    return ast::UnaryOp::logical_not;
  }

  static ast::BinaryOp binary_op(const Node& n) {
    if (n.is_type<g::op_or>()) {
      return ast::BinaryOp::logical_or;
    }
    if (n.is_type<g::op_and>()) {
      return ast::BinaryOp::logical_and;
    }
    if (n.is_type<g::op_eq>()) {
      return ast::BinaryOp::eq;
    }
    if (n.is_type<g::op_ne>()) {
      return ast::BinaryOp::ne;
    }
    if (n.is_type<g::op_le>()) {
      return ast::BinaryOp::le;
    }
    if (n.is_type<g::op_ge>()) {
      return ast::BinaryOp::ge;
    }
    if (n.is_type<g::op_lt>()) {
      return ast::BinaryOp::lt;
    }
    if (n.is_type<g::op_gt>()) {
      return ast::BinaryOp::gt;
    }
    if (n.is_type<g::op_add>()) {
      return ast::BinaryOp::add;
    }
    if (n.is_type<g::op_sub>()) {
      return ast::BinaryOp::sub;
    }
    if (n.is_type<g::op_mul>()) {
      return ast::BinaryOp::mul;
    }
    if (n.is_type<g::op_div>()) {
      return ast::BinaryOp::div;
    }
    if (n.is_type<g::op_pow>()) {
      return ast::BinaryOp::pow;
    }
    internal_error("unexpected operator node " + std::string(n.type));
  }

  /// [operand, op, operand, op, operand...]: left-associative, except `^`
  /// whose chain has a single operator (its right side recursed in `unary`).
  ast::ExprPtr operator_chain(const Node& n) {
    if (n.children.empty() || n.children.size() % 2 == 0) {
      internal_error("malformed operator chain " + std::string(n.type));
    }
    ast::ExprPtr lhs = expression(*n.children[0]);
    for (std::size_t i = 1; i + 1 < n.children.size(); i += 2) {
      ast::ExprPtr rhs = expression(*n.children[i + 1]);
      auto e = std::make_unique<ast::Expr>();
      e->span = Span::cover(lhs->span, rhs->span);
      e->depth = std::max(lhs->depth, rhs->depth) + 1;
      if (e->depth == kMaxTreeDepth + 1) {
        diagnostics_.error("E004", file_, e->span,
                           "expression nested too deeply (more than " +
                               std::to_string(kMaxTreeDepth) + " levels of operators)",
                           "split it into functions or parameters");
      }
      e->node = ast::Binary{binary_op(*n.children[i]), std::move(lhs), std::move(rhs)};
      lhs = std::move(e);
    }
    return lhs;
  }

  ast::StatementNode statement_node(const Node& n) {
    const auto& c = n.children;
    if (n.is_type<g::process_decl>()) {
      return ast::ProcessDecl{identifier(*c.at(0))};
    }
    if (n.is_type<g::param_decl>()) {
      return ast::ParamDecl{identifier(*c.at(0)), expression(*c.at(1))};
    }
    if (n.is_type<g::schedule_decl>()) {
      ast::ScheduleDecl s{identifier(*c.at(0)), identifier(*c.at(1)), nullptr, std::nullopt};
      const Node& body = *c.at(2);
      if (body.is_type<g::learnable_spec>()) {
        ast::LearnableKnots knots;
        knots.span = {offset_begin(body), content_end(body)};
        knots.count = number(*body.children.at(0));
        knots.count_span = span(*body.children.at(0));
        knots.init = expression(*body.children.at(1));
        s.learnable = std::move(knots);
      } else {
        s.body = expression(body);
      }
      return s;
    }
    if (n.is_type<g::function_decl>()) {
      ast::FunctionDecl f{identifier(*c.at(0)), {}, nullptr};
      for (std::size_t i = 1; i + 1 < c.size(); ++i) {
        f.params.push_back(identifier(*c[i]));
      }
      f.body = expression(*c.back());
      return f;
    }
    if (n.is_type<g::drift_decl>()) {
      return ast::DriftDecl{expression(*c.at(0))};
    }
    if (n.is_type<g::diffusion_decl>()) {
      return ast::DiffusionDecl{expression(*c.at(0))};
    }
    if (n.is_type<g::noise_decl>()) {
      return noise(n);
    }
    if (n.is_type<g::boundary_decl>()) {
      const Node& kind = *c.at(0);
      if (kind.is_type<g::dirichlet_kind>()) {
        return ast::BoundaryDecl{identifier(*kind.children.at(0)),
                                 expression(*kind.children.at(1))};
      }
      return ast::BoundaryDecl{identifier(kind), nullptr};
    }
    if (n.is_type<g::time_decl>()) {
      ast::TimeDecl t;
      for (const auto& item : c) {
        ast::TimeItem ti;
        ti.key = identifier(*item->children.at(0));
        const Node& value = *item->children.at(1);
        ti.value_span = {offset_begin(value), content_end(value)};
        if (!value.is_type<g::kw_off>()) {
          ti.value = expression(value);
        }
        t.items.push_back(std::move(ti));
      }
      return t;
    }
    // semantics / channels / scheme / gradient
    const std::string word = word_at(file_->text(), offset_begin(n));
    ast::Identifier keyword{
        word, {offset_begin(n), static_cast<std::uint32_t>(offset_begin(n) + word.size())}};
    return ast::OptionDecl{keyword, identifier(*c.at(0))};
  }

  ast::NoiseDecl noise(const Node& n) {
    ast::NoiseDecl decl;
    for (const auto& item : n.children) {
      const Node& key = *item->children.at(0);
      if (item->is_type<g::correlation_item>()) {
        if (decl.correlation_length) {
          diagnostics_.error("E041", file_, span(key), "`correlation_length` is given twice");
        }
        decl.correlation_length_key = span(key);
        decl.correlation_length = expression(*item->children.at(1));
      } else {
        if (decl.filter) {
          diagnostics_.error("E041", file_, span(key), "`filter` is given twice");
        }
        decl.filter =
            ast::NoiseFilter{identifier(*item->children.at(1)), expression(*item->children.at(2))};
      }
    }
    return decl;
  }
};

std::vector<ast::Comment> collect_comments(std::string_view text) {
  std::vector<ast::Comment> comments;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const std::size_t end = skip_comment(text, i);
    if (end == i) {
      continue;
    }
    const std::size_t marker = text[i] == '#' ? 1 : 2;
    std::string body(text.substr(i + marker, end - i - marker));
    while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back())) != 0) {
      body.pop_back();
    }
    comments.push_back({{static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(end)}, body});
    i = end;
  }
  return comments;
}

/// After a syntax error: the next line that starts (at column 1) with a
/// letter, i.e. most likely the next statement.
std::size_t recovery_point(std::string_view text, std::size_t error_at) {
  std::size_t i = text.find('\n', error_at);
  while (i != std::string_view::npos) {
    ++i;
    if (i < text.size() &&
        (std::isalpha(static_cast<unsigned char>(text[i])) != 0 || text[i] == '_')) {
      return i;
    }
    i = text.find('\n', i);
  }
  return text.size();
}

template <typename Rule>
std::unique_ptr<Node> parse_at(const SourcePtr& file, std::size_t& offset) {
  const std::string& text = file->text();
  const LineColumn at = file->line_column(offset);
  p::memory_input<> in(text.data() + offset, text.data() + text.size(), file->path(), offset,
                       at.line, at.column);
  auto root = p::parse_tree::parse<Rule, Node, selector, depth_action, g::control>(in);
  offset = static_cast<std::size_t>(in.current() - text.data());
  return root;
}

std::size_t skip_gap(const SourcePtr& file, std::size_t offset) {
  const std::string& text = file->text();
  p::memory_input<> in(text.data() + offset, text.data() + text.size(), file->path());
  (void)p::parse<g::gap>(in);
  return static_cast<std::size_t>(in.current() - text.data());
}

}  // namespace

bool validate_source_text(const SourcePtr& file, Diagnostics& diagnostics) {
  const std::string& text = file->text();
  if (text.size() > kMaxSourceBytes) {
    diagnostics.error("E007", file, {0, 0},
                      "input is " + std::to_string(text.size()) + " bytes; the limit is " +
                          std::to_string(kMaxSourceBytes) + " bytes",
                      "a process description is a few dozen lines");
    return false;
  }
  const std::ptrdiff_t bad = find_invalid_text_byte(text);
  if (bad >= 0) {
    const auto at = static_cast<std::uint32_t>(bad);
    const bool nul = text[static_cast<std::size_t>(bad)] == '\0';
    diagnostics.error("E006", file, {at, at + 1},
                      nul ? "the file contains a NUL byte: it is not a text file"
                          : "the file is not valid UTF-8 text at this byte",
                      "is this a .spde file? spdec reads UTF-8 text");
    return false;
  }
  return true;
}

SourcePtr load_source(const std::string& path, Diagnostics& diagnostics) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    diagnostics.error("E008", nullptr, {}, "cannot read `" + path + "`: " + os_reason());
    return nullptr;
  }
  std::string text;
  char buffer[65536];
  while (stream.read(buffer, sizeof buffer) || stream.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(stream.gcount()));
    if (text.size() > kMaxSourceBytes) {
      break;  // no need to read a huge file to reject it
    }
  }
  if (stream.bad()) {
    diagnostics.error("E008", nullptr, {},
                      "cannot read `" + path + "`: read error: " + os_reason());
    return nullptr;
  }
  auto file = std::make_shared<const SourceFile>(path, std::move(text));
  return validate_source_text(file, diagnostics) ? file : nullptr;
}

std::optional<ast::Module> parse(const SourcePtr& file, Diagnostics& diagnostics) {
  if (!validate_source_text(file, diagnostics)) {
    return std::nullopt;
  }
  const std::size_t errors_before = diagnostics.error_count();
  ast::Module module;
  module.file = file;
  module.comments = collect_comments(file->text());
  Builder builder(file, diagnostics);
  std::size_t syntax_errors = 0;
  std::size_t offset = skip_gap(file, 0);
  while (offset < file->text().size()) {
    const std::size_t statement_begin = offset;
    try {
      auto root = parse_at<g::statement>(file, offset);
      if (!root || root->children.size() != 1) {
        internal_error("a statement produced no tree");
      }
      module.statements.push_back(builder.statement(*root->children.front()));
    } catch (const p::parse_error& error) {
      diagnostics.report(syntax_diagnostic(file, error, statement_begin));
      const std::size_t at =
          error.positions().empty() ? statement_begin : error.positions().front().byte;
      const bool next_statement_here =
          at > statement_begin && at < file->text().size() && file->line_column(at).column == 1;
      offset =
          next_statement_here ? at : recovery_point(file->text(), std::max(at, statement_begin));
      if (++syntax_errors >= kMaxSyntaxErrors) {
        break;
      }
    }
    offset = skip_gap(file, offset);
  }
  if (diagnostics.error_count() > errors_before) {
    return std::nullopt;
  }
  return module;
}

ast::ExprPtr parse_expression(const SourcePtr& file, Diagnostics& diagnostics) {
  if (!validate_source_text(file, diagnostics)) {
    return nullptr;
  }
  const std::size_t errors_before = diagnostics.error_count();
  std::size_t offset = skip_gap(file, 0);
  try {
    auto root = parse_at<p::seq<p::must<g::expr>, g::ws, p::must<p::eof>>>(file, offset);
    Builder builder(file, diagnostics);
    ast::ExprPtr e = builder.expression(*root->children.at(0));
    return diagnostics.error_count() > errors_before ? nullptr : std::move(e);
  } catch (const p::parse_error& error) {
    diagnostics.report(syntax_diagnostic(file, error, 0));
    return nullptr;
  }
}

}  // namespace spdec::lang
