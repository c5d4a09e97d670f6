// The op table (lang/ops.hpp) and the one differentiator it drives, as ddt
// uses it: completeness, names, C forms, rules, and derivatives against
// central differences of the evaluator.
#include "lang/ops.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <string>

#include "lang/builtins.hpp"
#include "lang/ddt.hpp"
#include "lang/evaluate.hpp"
#include "tests/lang/derivative_oracle.hpp"
#include "tests/lang/test_support.hpp"

using spdec::lang::Op;
using spdec::lang::OpInfo;
using spdec::lang::OpKind;

namespace {

spdec::lang::ExprRef ddt(const spdec::lang::ExprRef& e) {
  spdec::lang::Diagnostics diagnostics;
  auto d = spdec::lang::time_derivative(e, {}, nullptr, diagnostics);
  REQUIRE(d != nullptr);
  return d;
}

spdec::lang::Value at_time(const spdec::lang::ExprRef& e, double t) {
  spdec::lang::EvalContext context;
  context.t = t;
  return spdec::lang::evaluate(e, context);
}

bool finite_throughout(const spdec::lang::ExprRef& e, double t) {
  const spdec::lang::Value v = at_time(e, t);
  if (!std::isfinite(v.x) || !std::isfinite(v.y) || !std::isfinite(v.z)) return false;
  for (const auto& arg : e->args) {
    if (!finite_throughout(arg, t)) return false;
  }
  return true;
}

bool differentiable(const OpInfo& row) {
  return row.kind == OpKind::scalar || row.kind == OpKind::vector;
}

}  // namespace

TEST_CASE("the op table has one row per operation, in enum order", "[ops]") {
  const auto ops = spdec::lang::all_ops();
  REQUIRE(ops.size() == spdec::lang::kOpCount);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    INFO("row " << i << " " << ops[i].id);
    CHECK(static_cast<std::size_t>(ops[i].op) == i);
    CHECK(&spdec::lang::op_info(ops[i].op) == &ops[i]);
  }
}

TEST_CASE("identifiers and spellings round-trip and name() is the spelling", "[ops]") {
  std::set<std::string> ids;
  for (const OpInfo& row : spdec::lang::all_ops()) {
    INFO(row.id);
    CHECK(!row.id.empty());
    CHECK(ids.insert(std::string(row.id)).second);
    CHECK(spdec::lang::op_with_id(row.id) == row.op);
    CHECK(spdec::lang::op_with_spelling(row.spelling, row.arity) == row.op);
    CHECK(std::string(spdec::lang::name(row.op)) == row.spelling);
  }
  CHECK(spdec::lang::op_with_spelling("-", 1) == Op::neg);
  CHECK(spdec::lang::op_with_spelling("-", 2) == Op::sub);
  CHECK(spdec::lang::op_with_spelling("div", 1) == Op::div_);
  CHECK(spdec::lang::op_with_spelling("/", 2) == Op::div);
  CHECK_FALSE(spdec::lang::op_with_id("no_such_op").has_value());
}

TEST_CASE("every operation written as a call is a built-in of that name", "[ops]") {
  for (const OpInfo& row : spdec::lang::all_ops()) {
    const bool call = row.notation == spdec::lang::Notation::call && row.kind != OpKind::schedule;
    if (!call) continue;
    INFO(row.spelling);
    const spdec::lang::Builtin* builtin = spdec::lang::find_builtin(row.spelling);
    REQUIRE(builtin != nullptr);
    // shift's offsets are the node's indices, not operands.
    CHECK(builtin->arity == (row.op == Op::shift ? 3U : row.arity));
  }
}

TEST_CASE("infix and prefix operators bind as LANGUAGE.md 5.1 says", "[ops]") {
  using spdec::lang::op_info;
  CHECK(op_info(Op::logical_or).precedence < op_info(Op::logical_and).precedence);
  CHECK(op_info(Op::logical_and).precedence < op_info(Op::lt).precedence);
  CHECK(op_info(Op::eq).precedence == op_info(Op::ge).precedence);
  CHECK(op_info(Op::ge).precedence < op_info(Op::add).precedence);
  CHECK(op_info(Op::sub).precedence < op_info(Op::mul).precedence);
  CHECK(op_info(Op::div).precedence < op_info(Op::neg).precedence);
  CHECK(op_info(Op::logical_not).precedence == op_info(Op::neg).precedence);
  CHECK(op_info(Op::neg).precedence < op_info(Op::pow).precedence);
  CHECK(op_info(Op::pow).precedence < op_info(Op::exp).precedence);
}

TEST_CASE("scalar operations evaluate and have a C form that uses each operand", "[ops]") {
  for (const OpInfo& row : spdec::lang::all_ops()) {
    INFO(row.id);
    const bool scalar = row.kind == OpKind::scalar;
    CHECK((row.evaluate != nullptr) == scalar);
    CHECK(!row.c_form.empty() == scalar);
    if (!scalar) continue;
    std::vector<std::string> operands;
    for (std::size_t i = 0; i < row.arity; ++i) operands.push_back("A" + std::to_string(i));
    const std::string text = spdec::lang::c_expression(row.op, operands, "PFX_");
    for (const std::string& operand : operands) CHECK(text.find(operand) != std::string::npos);
    CHECK(text.find('$') == std::string::npos);
    CHECK(text.find('@') == std::string::npos);
  }
  const std::vector<std::string> ab = {"a", "b"};
  CHECK(spdec::lang::c_expression(Op::min, ab, "__builtin_") == "__builtin_fminf(a, b)");
  CHECK(spdec::lang::c_expression(Op::le, ab, "") == "((a <= b) ? 1.0f : 0.0f)");
}

TEST_CASE("every scalar and vector operation has a derivative rule that parses", "[ops]") {
  for (const OpInfo& row : spdec::lang::all_ops()) {
    INFO(row.id);
    CHECK(!row.derivative.empty() == differentiable(row));
    CHECK((spdec::lang::derivative_rule(row.op, false) != nullptr) == differentiable(row));
  }
  REQUIRE(spdec::lang::derivative_rule(Op::pow, true) != nullptr);
  CHECK(spdec::lang::derivative_rule(Op::pow, true) !=
        spdec::lang::derivative_rule(Op::pow, false));
  CHECK(spdec::lang::derivative_rule(Op::exp, true) ==
        spdec::lang::derivative_rule(Op::exp, false));
}

TEST_CASE("malformed derivative rules are internal errors", "[ops]") {
  for (const char* bad : {"mul(dx0)", "nope(x0)", "add(x0, dx1", "x3", "add(x0, x1) x2", ""}) {
    INFO(bad);
    CHECK_THROWS(spdec::lang::parse_derivative_rule(bad));
  }
  const auto rule = spdec::lang::parse_derivative_rule("add(mul(dx0, x1), 2)");
  REQUIRE(rule.size() == 5);
  CHECK(rule.back().op == Op::add);
}

TEST_CASE("ddt agrees with central differences on random expressions rooted at each op",
          "[ops][ddt]") {
  // Each differentiable operation at the root of random expressions of t up
  // to four levels deep; points where f or d is not finite, or where f is
  // not smooth within h (a kink of abs/min/max, a select or comparison
  // switching), are skipped, and each op must still be checked at 40 points.
  spdec::test::RandomExpressions random(20240615, /*vectors=*/true);
  for (const OpInfo& row : spdec::lang::all_ops()) {
    if (!differentiable(row)) continue;
    int checked = 0;
    for (int attempt = 0; attempt < 4000 && checked < 40; ++attempt) {
      const spdec::lang::ExprRef e = random.rooted(row.op, 4);
      if (e->stage != spdec::lang::Stage::time) continue;  // folded to a constant
      const spdec::lang::ExprRef d = ddt(e);
      const double t = random.uniform(-1.5, 1.5);
      const int components = e->shape == spdec::lang::Shape::scalar   ? 1
                             : e->shape == spdec::lang::Shape::vector ? 2
                                                                      : 3;
      for (int which = 0; which < components; ++which) {
        const auto component = [&](const spdec::lang::ExprRef& x, double at) {
          const spdec::lang::Value v = at_time(x, at);
          return which == 0 ? v.x : which == 1 ? v.y : v.z;
        };
        const auto f = [&](double at) {
          return finite_throughout(e, at) ? component(e, at) : std::nan("");
        };
        const auto check = spdec::test::check_derivative(f, t, component(d, t));
        if (!check.usable) continue;
        INFO(row.id << ": " << spdec::lang::to_string(e) << "\nd = " << spdec::lang::to_string(d)
                    << "\nt = " << t << ", component " << which << ": d = " << component(d, t)
                    << ", differences " << check.estimate << " ± " << check.tolerance);
        CHECK(check.agrees);
        ++checked;
      }
    }
    INFO(row.id);
    CHECK(checked >= 40);
  }
}

TEST_CASE("d|a| at a = 0 is 0 in ddt, the mean of the one-sided slopes", "[ops][ddt]") {
  using spdec::lang::binary;
  using spdec::lang::constant;
  using spdec::lang::leaf;
  using spdec::lang::unary;
  const auto a = binary(Op::sub, leaf(Op::time), constant(0.5), {});
  const auto d = ddt(unary(Op::abs, a, {}));
  CHECK(at_time(d, 0.5).x == 0.0);
  CHECK(at_time(d, 0.25).x == -1.0);
  CHECK(at_time(d, 0.75).x == 1.0);
  // -0.0 and 0.0 alike: the rule tests a < 0 and a > 0, both false at ±0.
  const auto d_of_t = ddt(unary(Op::abs, leaf(Op::time), {}));
  CHECK(at_time(d_of_t, -0.0).x == 0.0);
  CHECK(at_time(d_of_t, 0.0).x == 0.0);

  // Through the language: a schedule's ddt folded at the kink.
  auto checked = spdec::test::check_text(
      "process p\nschedule s(t) = abs(t - 0.5)\nschedule d(t) = ddt(s(t))\n"
      "param at_kink = d(0.5)\nparam left = d(0.25)\ndrift = 0\ndiffusion = 1\n"
      "time T = 1, dt = 0.01\n");
  REQUIRE(checked.process.has_value());
  CHECK(checked.process->find_param("at_kink")->value == 0.0);
  CHECK(checked.process->find_param("left")->value == -1.0);
}

TEST_CASE("ddt of a constant times a vector keeps the vector's shape", "[ops][ddt]") {
  // It used to drop 0·v to the scalar 0 and then add it to a vector: an
  // internal error for ddt(norm2(2 * vec(t, 1))).
  auto checked = spdec::test::check_text(
      "process p\nschedule s(t) = ddt(norm2(2 * vec(t, 1)))\nparam v = s(0.5)\n"
      "drift = 0\ndiffusion = s(t)\ntime T = 1, dt = 0.01\n");
  REQUIRE(checked.process.has_value());
  CHECK(checked.process->find_param("v")->value == Approx(4.0));  // d/dt (4t² + 4) at 1/2
}

TEST_CASE("the syntax tree's binary operators are the table's, spelled as written",
          "[ops][format]") {
  using spdec::lang::ast::BinaryOp;
  for (int i = 0; i <= static_cast<int>(BinaryOp::pow); ++i) {
    const auto b = static_cast<BinaryOp>(i);
    const Op op = spdec::lang::operation_of(b);
    INFO(spdec::lang::ast::spelling(b));
    CHECK(spdec::lang::op_info(op).notation == spdec::lang::Notation::infix);
    CHECK(spdec::lang::op_with_spelling(spdec::lang::ast::spelling(b), 2) == op);
  }
  CHECK(spdec::lang::operation_of(BinaryOp::pow) == Op::pow);
  CHECK(spdec::lang::operation_of(BinaryOp::logical_or) == Op::logical_or);
}
