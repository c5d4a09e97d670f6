#include "lang/ast.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <string>

#include "lang/number.hpp"
#include "lang/ops.hpp"
#include "lang/overloaded.hpp"

namespace spdec::lang::ast {

namespace {

bool same_number(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

bool same(const ExprPtr& a, const ExprPtr& b);

bool same(const Expr& a, const Expr& b) {
  if (a.node.index() != b.node.index()) {
    return false;
  }
  return std::visit(
      overloaded{
          [&](const Number& n) { return same_number(n.value, std::get<Number>(b.node).value); },
          [&](const NameRef& n) { return n.name == std::get<NameRef>(b.node).name; },
          [&](const Call& c) {
            const auto& other = std::get<Call>(b.node);
            if (c.callee.name != other.callee.name || c.args.size() != other.args.size()) {
              return false;
            }
            for (std::size_t i = 0; i < c.args.size(); ++i) {
              if (!same(c.args[i], other.args[i])) {
                return false;
              }
            }
            return true;
          },
          [&](const Unary& u) {
            const auto& other = std::get<Unary>(b.node);
            return u.op == other.op && same(u.operand, other.operand);
          },
          [&](const Binary& x) {
            const auto& other = std::get<Binary>(b.node);
            return x.op == other.op && same(x.lhs, other.lhs) && same(x.rhs, other.rhs);
          }},
      a.node);
}

bool same(const ExprPtr& a, const ExprPtr& b) {
  if (!a || !b) {
    return !a && !b;
  }
  return same(*a, *b);
}

bool same_ids(const std::vector<Identifier>& a, const std::vector<Identifier>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name) {
      return false;
    }
  }
  return true;
}

bool same(const StatementNode& a, const StatementNode& b) {
  if (a.index() != b.index()) {
    return false;
  }
  return std::visit(
      overloaded{
          [&](const ProcessDecl& s) { return s.name.name == std::get<ProcessDecl>(b).name.name; },
          [&](const ParamDecl& s) {
            const auto& o = std::get<ParamDecl>(b);
            return s.name.name == o.name.name && same(s.value, o.value);
          },
          [&](const ScheduleDecl& s) {
            const auto& o = std::get<ScheduleDecl>(b);
            if (s.name.name != o.name.name || s.variable.name != o.variable.name ||
                !same(s.body, o.body) || s.learnable.has_value() != o.learnable.has_value()) {
              return false;
            }
            return !s.learnable ||
                   (same_number(s.learnable->count.value, o.learnable->count.value) &&
                    same(s.learnable->init, o.learnable->init));
          },
          [&](const FunctionDecl& s) {
            const auto& o = std::get<FunctionDecl>(b);
            return s.name.name == o.name.name && same_ids(s.params, o.params) &&
                   same(s.body, o.body);
          },
          [&](const DriftDecl& s) { return same(s.value, std::get<DriftDecl>(b).value); },
          [&](const DiffusionDecl& s) { return same(s.value, std::get<DiffusionDecl>(b).value); },
          [&](const NoiseDecl& s) {
            const auto& o = std::get<NoiseDecl>(b);
            if (!same(s.correlation_length, o.correlation_length) ||
                s.filter.has_value() != o.filter.has_value()) {
              return false;
            }
            return !s.filter || (s.filter->variable.name == o.filter->variable.name &&
                                 same(s.filter->body, o.filter->body));
          },
          [&](const BoundaryDecl& s) {
            const auto& o = std::get<BoundaryDecl>(b);
            return s.kind.name == o.kind.name && same(s.value, o.value);
          },
          [&](const TimeDecl& s) {
            const auto& o = std::get<TimeDecl>(b);
            if (s.items.size() != o.items.size()) {
              return false;
            }
            for (std::size_t i = 0; i < s.items.size(); ++i) {
              if (s.items[i].key.name != o.items[i].key.name ||
                  !same(s.items[i].value, o.items[i].value)) {
                return false;
              }
            }
            return true;
          },
          [&](const OptionDecl& s) {
            const auto& o = std::get<OptionDecl>(b);
            return s.keyword.name == o.keyword.name && s.value.name == o.value.name;
          }},
      a);
}

}  // namespace

const char* spelling(UnaryOp op) {
  switch (op) {
    case UnaryOp::negate:
      return "-";
    case UnaryOp::plus:
      return "+";
    case UnaryOp::logical_not:
      return "!";
  }
  return "?";
}

const char* spelling(BinaryOp op) { return name(operation_of(op)); }

bool same_structure(const Module& a, const Module& b) {
  if (a.statements.size() != b.statements.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.statements.size(); ++i) {
    if (!same(a.statements[i].node, b.statements[i].node)) {
      return false;
    }
  }
  return true;
}

std::string dump(const Expr& expr) {
  return std::visit(overloaded{[](const Number& n) { return number_text(n.value); },
                               [](const NameRef& n) { return n.name; },
                               [](const Call& c) {
                                 std::string out = "(" + c.callee.name;
                                 for (const ExprPtr& arg : c.args) {
                                   out += " " + dump(*arg);
                                 }
                                 return out + ")";
                               },
                               [](const Unary& u) {
                                 return std::string("(") + spelling(u.op) + "u " +
                                        dump(*u.operand) + ")";
                               },
                               [](const Binary& b) {
                                 return std::string("(") + spelling(b.op) + " " + dump(*b.lhs) +
                                        " " + dump(*b.rhs) + ")";
                               }},
                    expr.node);
}

const char* statement_kind(const StatementNode& node) {
  return std::visit(
      overloaded{
          [](const ProcessDecl&) { return "process"; }, [](const ParamDecl&) { return "param"; },
          [](const ScheduleDecl&) { return "schedule"; },
          [](const FunctionDecl&) { return "function"; }, [](const DriftDecl&) { return "drift"; },
          [](const DiffusionDecl&) { return "diffusion"; },
          [](const NoiseDecl&) { return "noise"; }, [](const BoundaryDecl&) { return "boundary"; },
          [](const TimeDecl&) { return "time"; }, [](const OptionDecl&) { return "option"; }},
      node);
}

std::string dump(const Module& module) {
  std::string out;
  for (const Statement& s : module.statements) {
    out += statement_kind(s.node);
    std::visit(
        overloaded{[&](const ProcessDecl& d) { out += " " + d.name.name; },
                   [&](const ParamDecl& d) { out += " " + d.name.name + " " + dump(*d.value); },
                   [&](const ScheduleDecl& d) {
                     out += " " + d.name.name + "(" + d.variable.name + ") ";
                     out += d.learnable ? "learnable " + number_text(d.learnable->count.value) +
                                              " " + dump(*d.learnable->init)
                                        : dump(*d.body);
                   },
                   [&](const FunctionDecl& d) {
                     out += " " + d.name.name + "(";
                     for (std::size_t i = 0; i < d.params.size(); ++i) {
                       out += (i > 0 ? "," : "") + d.params[i].name;
                     }
                     out += ") " + dump(*d.body);
                   },
                   [&](const DriftDecl& d) { out += " " + dump(*d.value); },
                   [&](const DiffusionDecl& d) { out += " " + dump(*d.value); },
                   [&](const NoiseDecl& d) {
                     if (d.correlation_length) {
                       out += " correlation_length " + dump(*d.correlation_length);
                     }
                     if (d.filter) {
                       out += " filter(" + d.filter->variable.name + ") " + dump(*d.filter->body);
                     }
                   },
                   [&](const BoundaryDecl& d) {
                     out += " " + d.kind.name + (d.value ? " " + dump(*d.value) : "");
                   },
                   [&](const TimeDecl& d) {
                     for (const TimeItem& item : d.items) {
                       out += " " + item.key.name + "=" + (item.value ? dump(*item.value) : "off");
                     }
                   },
                   [&](const OptionDecl& d) { out += " " + d.keyword.name + " " + d.value.name; }},
        s.node);
    out += "\n";
  }
  return out;
}

}  // namespace spdec::lang::ast
