#include "lang/ops.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>

#include "lang/diagnostics.hpp"

namespace spdec::lang {

namespace {

using Evaluate = double (*)(const double*);

// --- row makers: each sets what its kind of operation has --------------------

constexpr OpInfo leaf_row(Op op, std::string_view id, std::string_view spelling,
                          std::uint8_t reads) {
  OpInfo row;
  row.op = op;
  row.id = id;
  row.spelling = spelling;
  row.kind = OpKind::leaf;
  row.notation = Notation::leaf;
  row.reads = reads;
  return row;
}

/// A scalar operation written as a call: `exp(x)`, `min(a, b)`, `select(c, a, b)`.
constexpr OpInfo function_row(Op op, std::string_view name, std::uint8_t arity, Evaluate evaluate,
                              std::string_view c_form, std::string_view derivative) {
  OpInfo row;
  row.op = op;
  row.id = name;
  row.spelling = name;
  row.kind = OpKind::scalar;
  row.arity = arity;
  row.notation = Notation::call;
  row.evaluate = evaluate;
  row.c_form = c_form;
  row.derivative = derivative;
  return row;
}

/// A scalar operator written between its operands: `a + b`, `a < b`.
constexpr OpInfo infix_row(Op op, std::string_view id, std::string_view spelling,
                           Precedence precedence, Evaluate evaluate, std::string_view c_form,
                           std::string_view derivative) {
  OpInfo row = function_row(op, id, 2, evaluate, c_form, derivative);
  row.spelling = spelling;
  row.notation = Notation::infix;
  row.precedence = precedence;
  return row;
}

constexpr OpInfo prefix_row(Op op, std::string_view id, std::string_view spelling,
                            Evaluate evaluate, std::string_view c_form,
                            std::string_view derivative) {
  OpInfo row = function_row(op, id, 1, evaluate, c_form, derivative);
  row.spelling = spelling;
  row.notation = Notation::prefix;
  row.precedence = Precedence::unary;
  return row;
}

constexpr OpInfo with_shape(OpInfo row, ShapeRule shape) {
  row.shape = shape;
  return row;
}

constexpr OpInfo commutative(OpInfo row) {
  row.commutative = true;
  return row;
}

constexpr OpInfo vector_row(Op op, std::string_view id, std::string_view spelling,
                            std::uint8_t arity, ShapeRule shape, std::string_view derivative) {
  OpInfo row;
  row.op = op;
  row.id = id;
  row.spelling = spelling;
  row.kind = OpKind::vector;
  row.arity = arity;
  row.shape = shape;
  row.derivative = derivative;
  return row;
}

constexpr OpInfo stencil_row(Op op, std::string_view id, std::string_view spelling, ShapeRule shape,
                             std::uint8_t space_order) {
  OpInfo row;
  row.op = op;
  row.id = id;
  row.spelling = spelling;
  row.kind = OpKind::stencil;
  row.arity = 1;
  row.shape = shape;
  row.space_order = space_order;
  return row;
}

constexpr OpInfo knots_row() {
  OpInfo row;
  row.op = Op::knots;
  row.id = "knots";
  row.spelling = "knots";
  row.kind = OpKind::schedule;
  row.arity = 1;
  return row;
}

double truth(bool b) { return b ? 1.0 : 0.0; }

// Comparisons and logic give exactly 1 or 0 and are piecewise constant: their
// derivative is 0 wherever it exists (LANGUAGE.md §9).
constexpr std::string_view kPiecewiseConstant = "0";

// clang-format off
constexpr std::array<OpInfo, kOpCount> kTable = {
    leaf_row(Op::constant, "constant", "constant", reads_none),
    leaf_row(Op::time, "time", "t", reads_t),
    leaf_row(Op::field_u, "field_u", "u", reads_u),
    leaf_row(Op::field_u0, "field_u0", "u0", reads_u0),
    leaf_row(Op::coord_x, "coord_x", "x", reads_xy),
    leaf_row(Op::coord_y, "coord_y", "y", reads_xy),
    leaf_row(Op::kappa, "kappa", "kappa", reads_kappa),
    knots_row(),
    with_shape(prefix_row(Op::neg, "neg", "-",
        [](const double* x) { return -x[0]; },
        "(-$0)", "neg(dx0)"), ShapeRule::keep),
    prefix_row(Op::logical_not, "logical_not", "!",
        [](const double* x) { return truth(x[0] == 0.0); },
        "(($0 == 0.0f) ? 1.0f : 0.0f)", kPiecewiseConstant),
    commutative(with_shape(infix_row(Op::add, "add", "+", Precedence::sum,
        [](const double* x) { return x[0] + x[1]; },
        "($0 + $1)", "add(dx0, dx1)"), ShapeRule::same)),
    with_shape(infix_row(Op::sub, "sub", "-", Precedence::sum,
        [](const double* x) { return x[0] - x[1]; },
        "($0 - $1)", "sub(dx0, dx1)"), ShapeRule::same),
    commutative(with_shape(infix_row(Op::mul, "mul", "*", Precedence::product,
        [](const double* x) { return x[0] * x[1]; },
        "($0 * $1)", "add(mul(dx0, x1), mul(x0, dx1))"), ShapeRule::product)),
    with_shape(infix_row(Op::div, "div", "/", Precedence::product,
        [](const double* x) { return x[0] / x[1]; },
        "($0 / $1)", "div(sub(mul(dx0, x1), mul(x0, dx1)), mul(x1, x1))"), ShapeRule::quotient),
    [] {
      // a^b = exp(b log a) in general; with a number b the power rule, which
      // needs no log and so holds for a ≤ 0 as well.
      OpInfo row = infix_row(Op::pow, "pow", "^", Precedence::power,
          [](const double* x) { return std::pow(x[0], x[1]); },
          "@powf($0, $1)", "mul(f, add(mul(dx1, log(x0)), div(mul(x1, dx0), x0)))");
      row.derivative_x1_number = "mul(mul(x1, pow(x0, sub(x1, 1))), dx0)";
      return row;
    }(),
    infix_row(Op::lt, "lt", "<", Precedence::comparison,
        [](const double* x) { return truth(x[0] < x[1]); },
        "(($0 < $1) ? 1.0f : 0.0f)", kPiecewiseConstant),
    infix_row(Op::le, "le", "<=", Precedence::comparison,
        [](const double* x) { return truth(x[0] <= x[1]); },
        "(($0 <= $1) ? 1.0f : 0.0f)", kPiecewiseConstant),
    infix_row(Op::gt, "gt", ">", Precedence::comparison,
        [](const double* x) { return truth(x[0] > x[1]); },
        "(($0 > $1) ? 1.0f : 0.0f)", kPiecewiseConstant),
    infix_row(Op::ge, "ge", ">=", Precedence::comparison,
        [](const double* x) { return truth(x[0] >= x[1]); },
        "(($0 >= $1) ? 1.0f : 0.0f)", kPiecewiseConstant),
    commutative(infix_row(Op::eq, "eq", "==", Precedence::comparison,
        [](const double* x) { return truth(x[0] == x[1]); },
        "(($0 == $1) ? 1.0f : 0.0f)", kPiecewiseConstant)),
    commutative(infix_row(Op::ne, "ne", "!=", Precedence::comparison,
        [](const double* x) { return truth(x[0] != x[1]); },
        "(($0 != $1) ? 1.0f : 0.0f)", kPiecewiseConstant)),
    commutative(infix_row(Op::logical_and, "logical_and", "&&", Precedence::logical_and,
        [](const double* x) { return truth(x[0] != 0.0 && x[1] != 0.0); },
        "(($0 != 0.0f && $1 != 0.0f) ? 1.0f : 0.0f)", kPiecewiseConstant)),
    commutative(infix_row(Op::logical_or, "logical_or", "||", Precedence::logical_or,
        [](const double* x) { return truth(x[0] != 0.0 || x[1] != 0.0); },
        "(($0 != 0.0f || $1 != 0.0f) ? 1.0f : 0.0f)", kPiecewiseConstant)),
    // Piecewise: the condition is locally constant.
    with_shape(function_row(Op::select, "select", 3,
        [](const double* x) { return x[0] != 0.0 ? x[1] : x[2]; },
        "(($0 != 0.0f) ? $1 : $2)", "select(x0, dx1, dx2)"), ShapeRule::branches),
    function_row(Op::exp, "exp", 1, [](const double* x) { return std::exp(x[0]); },
        "@expf($0)", "mul(f, dx0)"),
    function_row(Op::log, "log", 1, [](const double* x) { return std::log(x[0]); },
        "@logf($0)", "div(dx0, x0)"),
    function_row(Op::sqrt, "sqrt", 1, [](const double* x) { return std::sqrt(x[0]); },
        "@sqrtf($0)", "div(dx0, mul(2, f))"),
    // d|a| = sign(a) a', with sign(0) = 0: the kernels and the host evaluate
    // |a| with fabs, whose one-sided slopes at 0 are -1 and +1; 0 is their
    // mean, the limit of the central differences that the tests (and any
    // symmetric finite-difference check) take, the least-norm subgradient,
    // and what LibTorch's autograd gives for abs at 0 — so the symbolic
    // ∂g₂/∂u of the compiled kernels agrees with the reference backend's
    // autograd there. It is also odd like d|a|/da itself, so -0.0 and 0.0
    // (equal, but `a >= 0` would treat them alike only by accident) agree.
    function_row(Op::abs, "abs", 1, [](const double* x) { return std::fabs(x[0]); },
        "@fabsf($0)", "select(lt(x0, 0), neg(dx0), select(gt(x0, 0), dx0, 0))"),
    function_row(Op::sin, "sin", 1, [](const double* x) { return std::sin(x[0]); },
        "@sinf($0)", "mul(cos(x0), dx0)"),
    function_row(Op::cos, "cos", 1, [](const double* x) { return std::cos(x[0]); },
        "@cosf($0)", "neg(mul(sin(x0), dx0))"),
    function_row(Op::tanh, "tanh", 1, [](const double* x) { return std::tanh(x[0]); },
        "@tanhf($0)", "mul(sub(1, mul(f, f)), dx0)"),
    function_row(Op::sigmoid, "sigmoid", 1,
        [](const double* x) { return 1.0 / (1.0 + std::exp(-x[0])); },
        "(1.0f / (1.0f + @expf(-$0)))", "mul(mul(f, sub(1, f)), dx0)"),
    // min and max take the derivative of the operand they return (the first
    // on a tie), as LANGUAGE.md §9 says of every kink.
    commutative(function_row(Op::min, "min", 2,
        [](const double* x) { return std::fmin(x[0], x[1]); },
        "@fminf($0, $1)", "select(le(x0, x1), dx0, dx1)")),
    commutative(function_row(Op::max, "max", 2,
        [](const double* x) { return std::fmax(x[0], x[1]); },
        "@fmaxf($0, $1)", "select(ge(x0, x1), dx0, dx1)")),
    vector_row(Op::make_vector, "make_vector", "vec", 2, ShapeRule::scalars_to_vector,
        "make_vector(dx0, dx1)"),
    vector_row(Op::norm, "norm", "norm", 1, ShapeRule::vectors_to_scalar,
        "div(dot(x0, dx0), f)"),
    vector_row(Op::norm2, "norm2", "norm2", 1, ShapeRule::vectors_to_scalar,
        "mul(2, dot(x0, dx0))"),
    vector_row(Op::dot, "dot", "dot", 2, ShapeRule::vectors_to_scalar,
        "add(dot(dx0, x1), dot(x0, dx1))"),
    vector_row(Op::make_matrix, "make_matrix", "mat", 3, ShapeRule::scalars_to_matrix,
        "make_matrix(dx0, dx1, dx2)"),
    stencil_row(Op::grad, "grad", "grad", ShapeRule::scalars_to_vector, 1),
    stencil_row(Op::div_, "divergence", "div", ShapeRule::vectors_to_scalar, 1),
    stencil_row(Op::lap, "lap", "lap", ShapeRule::scalars, 2),
    stencil_row(Op::dx, "dx", "dx", ShapeRule::scalars, 1),
    stencil_row(Op::dy, "dy", "dy", ShapeRule::scalars, 1),
    stencil_row(Op::sobel, "sobel", "sobel", ShapeRule::scalars_to_vector, 1),
    // gauss(e, sigma): smoothing, no derivative (order 0); sigma is operand 1.
    [] {
      OpInfo row = stencil_row(Op::gauss, "gauss", "gauss", ShapeRule::scalars, 0);
      row.arity = 2;
      return row;
    }(),
    stencil_row(Op::shift, "shift", "shift", ShapeRule::scalars, 0),
};
// clang-format on

constexpr bool rows_in_enum_order() {
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<std::size_t>(kTable.at(i).op) != i) {
      return false;
    }
  }
  return true;
}
static_assert(rows_in_enum_order(), "kTable must have one row per Op, in enum order");

// The syntax tree's binary operators, in ast::BinaryOp order.
constexpr std::array<Op, static_cast<std::size_t>(ast::BinaryOp::pow) + 1> kBinaryOperators = {
    Op::logical_or, Op::logical_and, Op::eq,  Op::ne,  Op::lt,  Op::le, Op::gt,
    Op::ge,         Op::add,         Op::sub, Op::mul, Op::div, Op::pow};

// --- derivative rules: a tiny recursive-descent parser ------------------------

RuleNode rule_node(RuleNode::Kind kind, std::uint8_t index = 0) {
  RuleNode node;
  node.kind = kind;
  node.index = index;
  return node;
}

class RuleParser {
 public:
  explicit RuleParser(std::string_view text) : text_(text) {}

  DerivativeRule parse() {
    term();
    skip_spaces();
    if (pos_ != text_.size()) {
      fail("trailing text");
    }
    return std::move(nodes_);
  }

 private:
  std::size_t term() {
    skip_spaces();
    const std::string_view word = identifier();
    if (word.empty()) {
      return number();
    }
    if (word == "f") {
      return push(rule_node(RuleNode::Kind::value));
    }
    if (const auto index = operand_index(word, "dx")) {
      return push(rule_node(RuleNode::Kind::derivative, *index));
    }
    if (const auto index = operand_index(word, "x")) {
      return push(rule_node(RuleNode::Kind::operand, *index));
    }
    return application(word);
  }

  std::size_t application(std::string_view id) {
    const std::optional<Op> op = op_with_id(id);
    if (!op) {
      fail("unknown operation `" + std::string(id) + "`");
    }
    RuleNode node = rule_node(RuleNode::Kind::apply);
    node.op = *op;
    expect('(');
    node.args.push_back(term());
    while (peek() == ',') {
      ++pos_;
      node.args.push_back(term());
    }
    expect(')');
    if (node.args.size() != op_info(*op).arity) {
      fail("wrong operand count for `" + std::string(id) + "`");
    }
    return push(std::move(node));
  }

  std::size_t number() {
    RuleNode node = rule_node(RuleNode::Kind::number);
    const char* begin = text_.data() + pos_;
    const auto [end, error] = std::from_chars(begin, text_.data() + text_.size(), node.number);
    if (error != std::errc{}) {
      fail("expected a term");
    }
    pos_ += static_cast<std::size_t>(end - begin);
    return push(std::move(node));
  }

  /// `x0`..`x2` or `dx0`..`dx2` (for prefix "x" / "dx").
  static std::optional<std::uint8_t> operand_index(std::string_view word, std::string_view prefix) {
    if (word.size() != prefix.size() + 1 || !word.starts_with(prefix)) {
      return std::nullopt;
    }
    const char digit = word.back();
    if (digit < '0' || digit > '2') {
      return std::nullopt;
    }
    return static_cast<std::uint8_t>(digit - '0');
  }

  /// A word of letters, digits and `_` not starting with a digit; empty
  /// where a number (or nothing) starts.
  std::string_view identifier() {
    const std::size_t begin = pos_;
    const auto word_char = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
    };
    if (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_])) != 0) {
      return {};
    }
    while (pos_ < text_.size() && word_char(text_[pos_])) {
      ++pos_;
    }
    return text_.substr(begin, pos_ - begin);
  }

  std::size_t push(RuleNode node) {
    nodes_.push_back(std::move(node));
    return nodes_.size() - 1;
  }

  char peek() {
    skip_spaces();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }

  void expect(char c) {
    if (peek() != c) {
      fail(std::string("expected `") + c + "`");
    }
    ++pos_;
  }

  void skip_spaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') {
      ++pos_;
    }
  }

  [[noreturn]] void fail(const std::string& why) const {
    internal_error("derivative rule `" + std::string(text_) + "` at " + std::to_string(pos_) +
                   ": " + why);
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  DerivativeRule nodes_;
};

struct ParsedRules {
  std::array<DerivativeRule, kOpCount> general;
  std::array<DerivativeRule, kOpCount> x1_number;
};

const ParsedRules& parsed_rules() {
  static const ParsedRules rules = [] {
    ParsedRules out;
    for (const OpInfo& row : kTable) {
      const auto i = static_cast<std::size_t>(row.op);
      if (!row.derivative.empty()) {
        out.general.at(i) = parse_derivative_rule(row.derivative);
      }
      if (!row.derivative_x1_number.empty()) {
        out.x1_number.at(i) = parse_derivative_rule(row.derivative_x1_number);
      }
    }
    return out;
  }();
  return rules;
}

}  // namespace

const OpInfo& op_info(Op op) { return kTable.at(static_cast<std::size_t>(op)); }

std::span<const OpInfo> all_ops() { return kTable; }

std::optional<Op> op_with_id(std::string_view id) {
  for (const OpInfo& row : kTable) {
    if (row.id == id) {
      return row.op;
    }
  }
  return std::nullopt;
}

std::optional<Op> op_with_spelling(std::string_view spelling, std::size_t arity) {
  for (const OpInfo& row : kTable) {
    if (row.spelling == spelling && row.arity == arity) {
      return row.op;
    }
  }
  return std::nullopt;
}

Op operation_of(ast::BinaryOp op) { return kBinaryOperators.at(static_cast<std::size_t>(op)); }

std::string c_expression(Op op, std::span<const std::string> operands,
                         std::string_view math_prefix) {
  const OpInfo& row = op_info(op);
  if (row.c_form.empty() || operands.size() != row.arity) {
    internal_error(std::string("no C form for ") + std::string(row.spelling) + " of " +
                   std::to_string(operands.size()) + " operands");
  }
  std::string out;
  const std::string_view form = row.c_form;
  for (std::size_t i = 0; i < form.size(); ++i) {
    if (form[i] == '@') {
      out += math_prefix;
    } else if (form[i] == '$' && i + 1 < form.size()) {
      out += operands[static_cast<std::size_t>(form[++i] - '0')];
    } else {
      out += form[i];
    }
  }
  return out;
}

namespace {

/// Appends `node` and what it uses, operands last to first, to `out`;
/// returns its new index.
std::size_t append_last_operand_first(const DerivativeRule& rule, std::size_t node,
                                      DerivativeRule& out) {
  RuleNode copy = rule[node];
  for (std::size_t i = copy.args.size(); i-- > 0;) {
    copy.args[i] = append_last_operand_first(rule, copy.args[i], out);
  }
  out.push_back(std::move(copy));
  return out.size() - 1;
}

}  // namespace

DerivativeRule parse_derivative_rule(std::string_view text) {
  // The order in which a rule builds its terms is visible: codegen's IR is
  // hash-consed and orders commutative operands by node number, so it shows
  // in the emitted kernels. Last operand first is the order in which GCC
  // evaluated the arguments of the hand-written rules this table replaced:
  // kernels keep their text (and their cache entries) across the change, and
  // are now the same whichever compiler built spdec.
  const DerivativeRule parsed = RuleParser(text).parse();
  DerivativeRule ordered;
  ordered.reserve(parsed.size());
  append_last_operand_first(parsed, parsed.size() - 1, ordered);
  return ordered;
}

const DerivativeRule* derivative_rule(Op op, bool x1_is_number) {
  const auto i = static_cast<std::size_t>(op);
  const ParsedRules& rules = parsed_rules();
  if (x1_is_number && !rules.x1_number.at(i).empty()) {
    return &rules.x1_number.at(i);
  }
  const DerivativeRule& rule = rules.general.at(i);
  return rule.empty() ? nullptr : &rule;
}

}  // namespace spdec::lang
