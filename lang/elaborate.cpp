#include "lang/elaborate.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <ranges>
#include <set>
#include <utility>

#include "lang/builtins.hpp"
#include "lang/evaluate.hpp"
#include "lang/ops.hpp"
#include "lang/overloaded.hpp"
#include "lang/parser.hpp"

namespace spdec::lang {

namespace {

constexpr int kMaxKnots = 4096;
constexpr std::uint8_t kFieldReads = reads_u | reads_u0 | reads_xy | reads_kappa | reads_stencil;

/// Names bound by a function's parameters, a schedule's variable or a
/// filter's eigenvalue variable; innermost last.
using Scope = std::vector<std::pair<std::string, ExprRef>>;

struct ParamEntry {
  const ast::ParamDecl* decl = nullptr;
  ast::ExprPtr override_value;
  SourcePtr override_file;
  std::optional<double> value;
  bool in_progress = false;
  bool failed = false;
  bool used = false;
};

struct ScheduleEntry {
  const ast::ScheduleDecl* decl = nullptr;
  ExprRef symbolic;  ///< the body in terms of t, elaborated on first use
  int learnable = -1;
  bool used = false;
  bool expanding = false;  ///< its body is being elaborated (recursion guard)
};

struct FunctionEntry {
  const ast::FunctionDecl* decl = nullptr;
  bool used = false;
  bool expanding = false;
  bool reported_recursion = false;
};

bool is_field_name(std::string_view name) {
  return name == "u" || name == "u0" || name == "x" || name == "y" || name == "t";
}

class Elaborator {
 public:
  Elaborator(const ast::Module& module, Diagnostics& diagnostics)
      : module_(module), file_(module.file), diagnostics_(diagnostics) {}

  std::optional<Process> run(const std::vector<ParamOverride>& overrides, Usage* usage) {
    const std::size_t errors_before = diagnostics_.error_count();
    collect_declarations();
    collect_mentions();
    apply_overrides(overrides);
    process_.file = file_;
    for (const auto& [name, entry] : params_) {
      (void)param_value(name, entry.decl->name.span);
    }
    settings();
    learnables();
    check_schedules();
    process_.drift = main_expression(drift_, "drift");
    process_.diffusion = main_expression(diffusion_, "diffusion");
    noise();
    required_statements();
    record_params();
    const bool failed = diagnostics_.error_count() > errors_before;
    if (usage != nullptr) {
      record_usage(*usage, failed);
    }
    if (failed) {
      return std::nullopt;
    }
    return std::move(process_);
  }

 private:
  const ast::Module& module_;
  SourcePtr file_;
  Diagnostics& diagnostics_;
  Process process_;

  std::map<std::string, ParamEntry> params_;
  std::vector<std::string> param_order_;
  std::map<std::string, ScheduleEntry> schedules_;
  std::map<std::string, FunctionEntry> functions_;
  const ast::Statement* process_decl_ = nullptr;
  const ast::DriftDecl* drift_ = nullptr;
  const ast::DiffusionDecl* diffusion_ = nullptr;
  const ast::NoiseDecl* noise_ = nullptr;
  const ast::BoundaryDecl* boundary_ = nullptr;
  const ast::TimeDecl* time_ = nullptr;
  std::map<std::string, const ast::Statement*> seen_statements_;
  std::size_t nodes_ = 0;
  bool too_large_ = false;
  SourcePtr current_file_;              // the file of the expression being elaborated
  std::set<std::string> mentioned_;     // every name written in an expression, called or not
  std::set<std::string> noted_unused_;  // definitions already shown in a note

  // --- declarations -----------------------------------------------------------

  void error(const std::string& code, Span span, const std::string& message,
             const std::string& hint = {}) {
    diagnostics_.error(code, current_file_ ? current_file_ : file_, span, message, hint);
  }

  bool once(const ast::Statement& s, const std::string& kind) {
    const auto [it, inserted] = seen_statements_.emplace(kind, &s);
    if (!inserted) {
      const LineColumn first = file_->line_column(it->second->span.begin);
      diagnostics_.error(
          "E041", file_, s.keyword, "`" + kind + "` is given twice",
          "the first is at line " + std::to_string(first.line) + "; remove one of them");
    }
    return inserted;
  }

  bool declare_name(const ast::Identifier& id) {
    const auto clash = [&](const std::string& what) {
      diagnostics_.error("E011", file_, id.span, "`" + id.name + "` is already " + what,
                         "choose another name");
      return false;
    };
    if (find_builtin(id.name) != nullptr) {
      return clash("a built-in function");
    }
    if (is_field_name(id.name)) {
      return clash(id.name == "t" ? "the time variable" : "a field");
    }
    const auto previous = [&]() -> std::optional<Span> {
      if (auto p = params_.find(id.name); p != params_.end()) {
        return p->second.decl->name.span;
      }
      if (auto s = schedules_.find(id.name); s != schedules_.end()) {
        return s->second.decl->name.span;
      }
      if (auto f = functions_.find(id.name); f != functions_.end()) {
        return f->second.decl->name.span;
      }
      return std::nullopt;
    }();
    if (previous) {
      diagnostics_.error("E011", file_, id.span, "`" + id.name + "` is defined twice",
                         "the first definition is at line " +
                             std::to_string(file_->line_column(previous->begin).line));
      return false;
    }
    return true;
  }

  void collect_declarations() {
    for (const ast::Statement& s : module_.statements) {
      std::visit(overloaded{[&](const ast::ProcessDecl& d) {
                              if (once(s, "process")) {
                                process_decl_ = &s;
                                process_.name = d.name.name;
                              }
                            },
                            [&](const ast::ParamDecl& d) {
                              if (declare_name(d.name)) {
                                params_[d.name.name].decl = &d;
                                param_order_.push_back(d.name.name);
                              }
                            },
                            [&](const ast::ScheduleDecl& d) {
                              if (declare_name(d.name)) {
                                schedules_[d.name.name].decl = &d;
                              }
                            },
                            [&](const ast::FunctionDecl& d) {
                              if (declare_name(d.name)) {
                                functions_[d.name.name].decl = &d;
                              }
                              std::set<std::string> names;
                              for (const ast::Identifier& p : d.params) {
                                if (!names.insert(p.name).second) {
                                  diagnostics_.error("E011", file_, p.span,
                                                     "parameter `" + p.name + "` is listed twice");
                                }
                              }
                            },
                            [&](const ast::DriftDecl& d) {
                              if (once(s, "drift")) {
                                drift_ = &d;
                              }
                            },
                            [&](const ast::DiffusionDecl& d) {
                              if (once(s, "diffusion")) {
                                diffusion_ = &d;
                              }
                            },
                            [&](const ast::NoiseDecl& d) {
                              if (once(s, "noise")) {
                                noise_ = &d;
                              }
                            },
                            [&](const ast::BoundaryDecl& d) {
                              if (once(s, "boundary")) {
                                boundary_ = &d;
                              }
                            },
                            [&](const ast::TimeDecl& d) {
                              if (once(s, "time")) {
                                time_ = &d;
                              }
                            },
                            [&](const ast::OptionDecl& d) {
                              if (once(s, d.keyword.name)) {
                                option(d);
                              }
                            }},
                 s.node);
    }
  }

  /// What the file mentions, read off the syntax: unlike the `used` flags it
  /// is complete even when errors stop elaboration early, so a definition
  /// outside it is certainly unused (the W103 that the errors would hide).
  void collect_mentions() {
    const auto mention = [&](const ast::ExprPtr& e) {
      if (e) {
        mention_names(*e);
      }
    };
    for (const ast::Statement& s : module_.statements) {
      std::visit(overloaded{[&](const ast::ParamDecl& d) { mention(d.value); },
                            [&](const ast::ScheduleDecl& d) {
                              mention(d.body);
                              if (d.learnable) {
                                mention(d.learnable->init);
                              }
                            },
                            [&](const ast::FunctionDecl& d) { mention(d.body); },
                            [&](const ast::DriftDecl& d) { mention(d.value); },
                            [&](const ast::DiffusionDecl& d) { mention(d.value); },
                            [&](const ast::NoiseDecl& d) {
                              mention(d.correlation_length);
                              if (d.filter) {
                                mention(d.filter->body);
                              }
                            },
                            [&](const ast::BoundaryDecl& d) { mention(d.value); },
                            [&](const ast::TimeDecl& d) {
                              for (const ast::TimeItem& item : d.items) {
                                mention(item.value);
                              }
                            },
                            [](const auto&) {}},
                 s.node);
    }
  }

  void mention_names(const ast::Expr& e) {
    std::visit(overloaded{[](const ast::Number&) {},
                          [&](const ast::NameRef& n) { mentioned_.insert(n.name); },
                          [&](const ast::Call& c) {
                            mentioned_.insert(c.callee.name);
                            for (const ast::ExprPtr& a : c.args) {
                              mention_names(*a);
                            }
                          },
                          [&](const ast::Unary& u) { mention_names(*u.operand); },
                          [&](const ast::Binary& b) {
                            mention_names(*b.lhs);
                            mention_names(*b.rhs);
                          }},
               e.node);
  }

  /// E010 or E012 for an unknown `word`, with a "did you mean" hint. A close
  /// definition that nothing mentions is the likelier culprit than a closer
  /// one in use (`sigma_max` written for an unused `param sigmax`, next to
  /// `sigma_min`): it is named first, and a note shows its declaration. When
  /// it is also the closest, the plain hint already leads there.
  void unknown(const std::string& code, Span span, const std::string& message,
               const std::string& word, const std::vector<std::string>& candidates,
               const std::string& otherwise) {
    std::vector<std::string> unused;
    for (const std::string& c : candidates) {
      if (!mentioned_.contains(c) && declaration(c)) {
        unused.push_back(c);
      }
    }
    const std::string guess = closest_match(word, candidates);
    std::string orphan = closest_match(word, unused);
    if (orphan == guess) {
      orphan.clear();
    }
    std::string hint = guess.empty() ? otherwise : "did you mean `" + guess + "`?";
    if (!orphan.empty()) {
      hint = "did you mean `" + orphan + "`? it is defined but never used (`" + guess +
             "` is also close)";
    }
    error(code, span, message, hint);
    if (!orphan.empty() && noted_unused_.insert(orphan).second && !diagnostics_.full()) {
      const auto [what, at] = *declaration(orphan);
      diagnostics_.report({Severity::note, "", file_, at,
                           what + " `" + orphan + "` is defined here and never used", ""});
    }
  }

  /// What a file-level definition is and where its name is, if it is one.
  std::optional<std::pair<std::string, Span>> declaration(const std::string& n) const {
    if (auto p = params_.find(n); p != params_.end()) {
      return std::pair{std::string("parameter"), p->second.decl->name.span};
    }
    if (auto s = schedules_.find(n); s != schedules_.end()) {
      return std::pair{std::string("schedule"), s->second.decl->name.span};
    }
    if (auto f = functions_.find(n); f != functions_.end()) {
      return std::pair{std::string("function"), f->second.decl->name.span};
    }
    return std::nullopt;
  }

  void option(const ast::OptionDecl& d) {
    const std::string& k = d.keyword.name;
    if (k == "semantics") {
      read_option(d, kSemantics, process_.semantics);
    } else if (k == "channels") {
      read_option(d, kChannels, process_.channels);
    } else if (k == "scheme") {
      read_option(d, kFluxSchemes, process_.scheme);
    } else {
      read_option(d, kGradientForms, process_.gradient);
    }
  }

  /// The option's value through its table; an unknown one is E045, listing
  /// the table's spellings.
  template <typename Enum, std::size_t N>
  void read_option(const ast::OptionDecl& d, const EnumTable<Enum, N>& table, Enum& out) {
    const std::string& v = d.value.name;
    if (const std::optional<Enum> parsed = table.parse(v)) {
      out = *parsed;
      return;
    }
    const std::vector<std::string> allowed = table.names();
    std::string list;
    for (std::size_t i = 0; i < allowed.size(); ++i) {
      list += (i == 0 ? "" : (i + 1 == allowed.size() ? " or " : ", ")) + ("`" + allowed[i] + "`");
    }
    const std::string guess = closest_match(v, allowed);
    diagnostics_.error("E045", file_, d.value.span,
                       "`" + v + "` is not a valid `" + d.keyword.name + "`: expected " + list,
                       guess.empty() ? "" : "did you mean `" + guess + "`?");
  }

  void apply_overrides(const std::vector<ParamOverride>& overrides) {
    for (const ParamOverride& o : overrides) {
      auto pseudo = std::make_shared<const SourceFile>("--param " + o.name, o.value);
      const auto it = params_.find(o.name);
      if (it == params_.end()) {
        std::vector<std::string> names(param_order_.begin(), param_order_.end());
        const std::string guess = closest_match(o.name, names);
        auto line = std::make_shared<const SourceFile>("<command line>",
                                                       "--param " + o.name + "=" + o.value);
        diagnostics_.error(
            "E050", line, {8, static_cast<std::uint32_t>(8 + o.name.size())},
            "`" + o.name + "` is not a parameter of this process",
            guess.empty() ? "spdec check lists the parameters" : "did you mean `" + guess + "`?");
        continue;
      }
      const std::size_t errors_before = diagnostics_.error_count();
      ast::ExprPtr value = parse_expression(pseudo, diagnostics_);
      if (!value) {
        if (diagnostics_.error_count() == errors_before) {
          diagnostics_.error("E051", pseudo, {0, 0}, "empty value for --param " + o.name);
        } else {
          diagnostics_.error("E051", pseudo, {0, static_cast<std::uint32_t>(o.value.size())},
                             "invalid value for --param " + o.name,
                             "the value is a constant expression, e.g. 64 or 2*pi");
        }
        it->second.failed = true;
        continue;
      }
      it->second.override_value = std::move(value);
      it->second.override_file = pseudo;
    }
  }

  // --- parameters ---------------------------------------------------------------

  std::optional<double> param_value(const std::string& name, Span use) {
    ParamEntry& entry = params_.at(name);
    if (entry.value || entry.failed) {
      return entry.value;
    }
    if (entry.in_progress) {
      error("E014", use, "parameter `" + name + "` depends on itself",
            "a parameter's value must not refer back to it");
      entry.failed = true;
      return std::nullopt;
    }
    entry.in_progress = true;
    const SourcePtr saved = current_file_;
    current_file_ = entry.override_file ? entry.override_file : file_;
    const ast::Expr& value = entry.override_value ? *entry.override_value : *entry.decl->value;
    const ExprRef e = elaborate(value, {});
    current_file_ = saved;
    entry.in_progress = false;
    if (!e) {
      entry.failed = true;
      return std::nullopt;
    }
    if (e->stage != Stage::constant || e->shape != Shape::scalar) {
      const SourcePtr where = entry.override_file ? entry.override_file : file_;
      const Span at = e->shape != Shape::scalar ? value.span : first_reading(e, e->reads).span;
      diagnostics_.error(
          e->shape != Shape::scalar ? "E020" : "E030", where, at,
          "parameter `" + name + "` must be a constant scalar; this " +
              (e->shape != Shape::scalar ? "is a " + std::string(lang::name(e->shape))
                                         : "reads " + what_it_reads(e)),
          "parameters are fixed numbers; use a schedule for time dependence");
      entry.failed = true;
      return std::nullopt;
    }
    entry.value = e->value;
    return entry.value;
  }

  static std::string what_it_reads(const ExprRef& e) {
    if ((e->reads & reads_u) != 0) {
      return "the state `u`";
    }
    if ((e->reads & reads_u0) != 0) {
      return "the initial state `u0`";
    }
    if ((e->reads & reads_xy) != 0) {
      return "the coordinates `x`/`y`";
    }
    if ((e->reads & reads_kappa) != 0) {
      return "the eigenvalue `kappa`";
    }
    if ((e->reads & reads_stencil) != 0) {
      return "neighbouring pixels";
    }
    if ((e->reads & reads_knots) != 0) {
      return "a learnable schedule";
    }
    if ((e->reads & reads_t) != 0) {
      return "the time `t`";
    }
    return "nothing";
  }

  void record_params() {
    for (const std::string& name : param_order_) {
      const ParamEntry& entry = params_.at(name);
      if (entry.value) {
        process_.params.push_back(
            {name, *entry.value, entry.override_value != nullptr, entry.decl->name.span});
      }
    }
  }

  // --- expressions ----------------------------------------------------------------

  ExprRef elaborate(const ast::Expr& e, const Scope& scope) {
    if (too_large_) {
      return nullptr;
    }
    if (++nodes_ > kMaxExpressionNodes) {
      too_large_ = true;
      error("E016", e.span,
            "the process is too large after inlining functions (more than " +
                std::to_string(kMaxExpressionNodes) + " terms)",
            "a function that calls another twice doubles its size at every level");
      return nullptr;
    }
    return std::visit(
        overloaded{[&](const ast::Number& n) { return constant(n.value, e.span); },
                   [&](const ast::NameRef& n) { return name(n.name, e.span, scope); },
                   [&](const ast::Call& c) { return call(c, e.span, scope); },
                   [&](const ast::Unary& u) { return unary_expr(u, e.span, scope); },
                   [&](const ast::Binary& b) { return binary_expr(b, e.span, scope); }},
        e.node);
  }

  std::vector<std::string> visible_names(const Scope& scope) const {
    std::vector<std::string> names = {"t", "u", "u0", "x", "y", "inf", "pi"};
    for (const auto& [n, v] : scope) {
      names.push_back(n);
    }
    for (const auto& [n, v] : params_) {
      names.push_back(n);
    }
    return names;
  }

  ExprRef name(const std::string& n, Span span, const Scope& scope) {
    // Innermost binding first. (Not std::ranges::reverse_view: clang 14 with
    // libstdc++ 12 rejects it, which breaks the clang/libFuzzer build.)
    for (auto it = scope.rbegin(); it != scope.rend(); ++it) {
      if (it->first == n) {
        return it->second;
      }
    }
    if (n == "t") {
      return leaf(Op::time, span);
    }
    if (n == "u") {
      return leaf(Op::field_u, span);
    }
    if (n == "u0") {
      return leaf(Op::field_u0, span);
    }
    if (n == "x") {
      return leaf(Op::coord_x, span);
    }
    if (n == "y") {
      return leaf(Op::coord_y, span);
    }
    if (n == "inf") {
      return constant(HUGE_VAL, span);
    }
    if (n == "pi") {
      return constant(M_PI, span);
    }
    if (auto p = params_.find(n); p != params_.end()) {
      p->second.used = true;
      const auto v = param_value(n, span);
      return v ? constant(*v, span) : nullptr;
    }
    if (schedules_.contains(n) || functions_.contains(n) || find_builtin(n) != nullptr) {
      const bool schedule = schedules_.contains(n);
      error("E013", span,
            "`" + n + "` is a " + (schedule ? "schedule" : "function") + " and must be called",
            schedule ? "write " + n + "(t)" : "write " + n + "(...)");
      return nullptr;
    }
    // The filter's variable is a name only inside the filter; elsewhere it is
    // a stage error, as for the fields in a schedule (LANGUAGE.md 4.8).
    const bool filter_variable =
        noise_ != nullptr && noise_->filter && noise_->filter->variable.name == n;
    if (n == "kappa" || filter_variable) {
      error("E030", span,
            "`" + n + "` is the eigenvalue variable of the noise filter and exists only there",
            "it is valid only in the body of `noise filter(" + n +
                ") = ...`, where it is each noise mode's eigenvalue of -lap; to use it in a "
                "function, pass it as an argument from there");
      return nullptr;
    }
    unknown("E010", span, "unknown name `" + n + "`", n, visible_names(scope),
            "names are parameters, fields (u, u0, x, y), t, or function parameters");
    return nullptr;
  }

  ExprRef unary_expr(const ast::Unary& u, Span span, const Scope& scope) {
    ExprRef a = elaborate(*u.operand, scope);
    if (!a) {
      return nullptr;
    }
    switch (u.op) {
      case ast::UnaryOp::plus:
        return a;
      case ast::UnaryOp::negate:
        return lang::unary(Op::neg, a, span);
      case ast::UnaryOp::logical_not:
        if (a->shape != Shape::scalar) {
          error("E020", u.operand->span,
                "`!` needs a scalar, not a " + std::string(lang::name(a->shape)));
          return nullptr;
        }
        return lang::unary(Op::logical_not, a, span);
    }
    return nullptr;
  }

  ExprRef binary_expr(const ast::Binary& b, Span span, const Scope& scope) {
    ExprRef lhs = elaborate(*b.lhs, scope);
    ExprRef rhs = elaborate(*b.rhs, scope);
    if (!lhs || !rhs) {
      return nullptr;
    }
    const Op op = operation_of(b.op);
    const ShapeProblem problem = shape_problem(op, {lhs->shape, rhs->shape});
    if (!problem.code.empty()) {
      error(problem.code, problem.operand == 0 ? b.lhs->span : b.rhs->span, problem.message,
            problem.hint);
      return nullptr;
    }
    return lang::binary(op, lhs, rhs, span);
  }

  ExprRef call(const ast::Call& c, Span span, const Scope& scope) {
    const std::string& n = c.callee.name;
    for (const auto& [local, value] : scope) {
      if (local == n) {
        error("E012", c.callee.span, "`" + n + "` is a value here, not a function");
        return nullptr;
      }
    }
    if (auto s = schedules_.find(n); s != schedules_.end()) {
      return schedule_call(s->second, c, span, scope);
    }
    if (auto f = functions_.find(n); f != functions_.end()) {
      return function_call(f->second, c, span, scope);
    }
    if (const Builtin* b = find_builtin(n)) {
      return builtin_call(*b, c, span, scope);
    }
    if (params_.contains(n) || is_field_name(n)) {
      error("E012", c.callee.span, "`" + n + "` is a value, not a function",
            "multiplication needs `*`: " + n + " * (...)");
      return nullptr;
    }
    std::vector<std::string> callables;
    for (const Builtin& b : builtins()) {
      callables.emplace_back(b.name);
    }
    for (const auto& [name, entry] : schedules_) {
      callables.push_back(name);
    }
    for (const auto& [name, entry] : functions_) {
      callables.push_back(name);
    }
    unknown("E012", c.callee.span, "unknown function `" + n + "`", n, callables,
            "the built-in functions are listed in specs/LANGUAGE.md");
    return nullptr;
  }

  bool check_arity(const ast::Call& c, std::size_t expected, const std::string& what,
                   std::size_t most = 0) {
    most = std::max(most, expected);
    if (c.args.size() >= expected && c.args.size() <= most) {
      return true;
    }
    const std::string count = most == expected
                                  ? std::to_string(expected)
                                  : std::to_string(expected) + " or " + std::to_string(most);
    error("E013", c.callee.span,
          what + " `" + c.callee.name + "` takes " + count + " argument" + (most == 1 ? "" : "s") +
              ", but " + std::to_string(c.args.size()) + (c.args.size() == 1 ? " was" : " were") +
              " given");
    return false;
  }

  std::vector<ExprRef> arguments(const ast::Call& c, const Scope& scope) {
    std::vector<ExprRef> args;
    bool ok = true;
    for (const ast::ExprPtr& a : c.args) {
      args.push_back(elaborate(*a, scope));
      ok = ok && args.back() != nullptr;
    }
    return ok ? args : std::vector<ExprRef>{};
  }

  ExprRef builtin_call(const Builtin& b, const ast::Call& c, Span span, const Scope& scope) {
    if (!check_arity(c, b.arity, "built-in", b.max_arity)) {
      return nullptr;
    }
    std::vector<ExprRef> args = arguments(c, scope);
    if (args.empty()) {
      return nullptr;
    }
    BuiltinCall bc{b.name,          span, c.callee.span,
                   std::move(args), {},   current_file_ ? current_file_ : file_};
    for (const ast::ExprPtr& a : c.args) {
      bc.arg_spans.push_back(a->span);
    }
    return b.build(bc, diagnostics_);
  }

  ExprRef schedule_call(ScheduleEntry& s, const ast::Call& c, Span span, const Scope& scope) {
    s.used = true;
    if (!check_arity(c, 1, "schedule")) {
      return nullptr;
    }
    std::vector<ExprRef> args = arguments(c, scope);
    if (args.empty()) {
      return nullptr;
    }
    if (args[0]->stage == Stage::field || args[0]->shape != Shape::scalar) {
      error(args[0]->shape != Shape::scalar ? "E020" : "E030", c.args[0]->span,
            "a schedule is a function of time: its argument must be a scalar of time alone",
            "call it as " + c.callee.name + "(t)");
      return nullptr;
    }
    if (s.learnable >= 0) {
      return knots(s.learnable, args[0], span);
    }
    if (s.decl->learnable && s.learnable == -1) {
      error("E030", c.callee.span,
            "learnable schedule `" + c.callee.name + "` cannot be used in a constant",
            "parameters and time settings are fixed before training");
      return nullptr;
    }
    if (s.learnable == -2 || !s.decl->body) {
      return nullptr;  // its declaration had errors (already reported)
    }
    // Elaborated once with its variable symbolic, then applied: ddt inside a
    // schedule differentiates with respect to the schedule's own variable.
    if (s.expanding) {  // `schedule a(t) = a(t)`: report once, do not recurse
      error("E014", c.callee.span, "schedule `" + c.callee.name + "` calls itself",
            "recursion is not supported: every call is inlined");
      s.learnable = -2;
      return nullptr;
    }
    if (!s.symbolic) {
      s.expanding = true;
      s.symbolic = inline_body(*s.decl->body,
                               {{s.decl->variable.name, leaf(Op::time, s.decl->variable.span)}});
      s.expanding = false;
      if (!s.symbolic) {
        s.learnable = -2;
        return nullptr;
      }
    }
    return substitute_time(s.symbolic, args[0]);
  }

  ExprRef function_call(FunctionEntry& f, const ast::Call& c, Span span, const Scope& scope) {
    f.used = true;
    if (!check_arity(c, f.decl->params.size(), "function")) {
      return nullptr;
    }
    if (f.expanding) {
      if (!f.reported_recursion) {
        f.reported_recursion = true;
        error("E014", c.callee.span, "function `" + c.callee.name + "` calls itself",
              "recursion is not supported: every call is inlined");
      }
      return nullptr;
    }
    std::vector<ExprRef> args = arguments(c, scope);
    if (args.empty() && !c.args.empty()) {
      return nullptr;
    }
    Scope inner;
    for (std::size_t i = 0; i < args.size(); ++i) {
      inner.emplace_back(f.decl->params[i].name, args[i]);
    }
    f.expanding = true;
    const std::size_t reported_before = diagnostics_.all().size();
    ExprRef result = inline_body(*f.decl->body, inner);
    f.expanding = false;
    // A shape or stage error in the body is found with this call's arguments
    // substituted, so the body alone does not show the cause: point at the
    // call too. (Names, arity and recursion do not depend on the arguments.)
    const auto from_arguments = [](const Diagnostic& d) {
      static const std::set<std::string> codes = {"E020", "E021", "E022", "E030", "E031", "E045"};
      return d.severity == Severity::error && codes.contains(d.code);
    };
    const auto first =
        std::find_if(diagnostics_.all().begin() + static_cast<std::ptrdiff_t>(reported_before),
                     diagnostics_.all().end(), from_arguments);
    if (first != diagnostics_.all().end() && !diagnostics_.full()) {
      note_call_site(c, span, *f.decl, first->span);
    }
    return result;
  }

  /// The note for an error found in a function's body with this call's
  /// arguments: at the one argument whose parameter the error's operand
  /// reads, when there is exactly one (the cause), else at the whole call.
  void note_call_site(const ast::Call& c, Span call, const ast::FunctionDecl& decl,
                      Span error_span) {
    std::set<std::size_t> read;
    collect_parameters_within(*decl.body, decl, error_span, read);
    const SourcePtr at = current_file_ ? current_file_ : file_;
    if (read.size() == 1 && *read.begin() < c.args.size()) {
      const std::size_t i = *read.begin();
      const std::string& parameter = decl.params[i].name;
      diagnostics_.report({Severity::note, "", at, c.args[i]->span,
                           "passed to `" + c.callee.name + "` as `" + parameter + "` here",
                           "the body of `" + c.callee.name +
                               "` is checked with this argument in "
                               "place of `" +
                               parameter + "`"});
      return;
    }
    diagnostics_.report({Severity::note, "", at, call, "in this call of `" + c.callee.name + "`",
                         "the body of `" + c.callee.name +
                             "` is checked with these arguments in place of its parameters"});
  }

  /// The indices of `decl`'s parameters named inside `within` in `e`.
  static void collect_parameters_within(const ast::Expr& e, const ast::FunctionDecl& decl,
                                        Span within, std::set<std::size_t>& read) {
    if (e.span.end <= within.begin || e.span.begin >= within.end) return;  // disjoint
    std::visit(overloaded{[](const ast::Number&) {},
                          [&](const ast::NameRef& n) {
                            if (e.span.begin < within.begin || e.span.end > within.end) return;
                            for (std::size_t i = 0; i < decl.params.size(); ++i) {
                              if (decl.params[i].name == n.name) read.insert(i);
                            }
                          },
                          [&](const ast::Call& call) {
                            for (const ast::ExprPtr& a : call.args) {
                              collect_parameters_within(*a, decl, within, read);
                            }
                          },
                          [&](const ast::Unary& u) {
                            collect_parameters_within(*u.operand, decl, within, read);
                          },
                          [&](const ast::Binary& b) {
                            collect_parameters_within(*b.lhs, decl, within, read);
                            collect_parameters_within(*b.rhs, decl, within, read);
                          }},
               e.node);
  }

  /// Function and schedule bodies see only their own parameters (lexical scope).
  ExprRef inline_body(const ast::Expr& body, const Scope& inner) {
    const SourcePtr saved = current_file_;
    current_file_ = file_;
    ExprRef e = elaborate(body, inner);
    current_file_ = saved;
    return e;
  }

  // --- settings -----------------------------------------------------------------

  /// A constant scalar, or nullopt after reporting why not.
  std::optional<double> constant_value(const ast::Expr& e, const std::string& what) {
    const ExprRef v = elaborate(e, {});
    if (!v) {
      return std::nullopt;
    }
    if (v->shape != Shape::scalar || v->stage != Stage::constant) {
      error(v->shape != Shape::scalar ? "E020" : "E030",
            v->shape != Shape::scalar ? e.span : first_reading(v, v->reads).span,
            what + " must be a constant scalar; this " +
                (v->shape != Shape::scalar ? "is a " + std::string(lang::name(v->shape))
                                           : "reads " + what_it_reads(v)));
      return std::nullopt;
    }
    return v->value;
  }

  void settings() {
    if (boundary_ != nullptr) {
      const std::string& kind = boundary_->kind.name;
      // The grammar admits only the table's keywords.
      process_.boundary.kind = kBoundaryKinds.parse(kind).value_or(BoundaryKind::neumann);
      if (boundary_->value) {
        const auto v = constant_value(*boundary_->value, "the dirichlet boundary value");
        if (v && !std::isfinite(*v)) {
          error("E045", boundary_->value->span, "the dirichlet boundary value must be finite");
        }
        process_.boundary.value = v.value_or(0.0);
      }
    }
    if (time_ != nullptr) {
      time_settings(*time_);
    }
  }

  void time_settings(const ast::TimeDecl& decl) {
    std::map<std::string, std::pair<double, Span>> given;
    bool taming_off = false;
    for (const ast::TimeItem& item : decl.items) {
      if (given.contains(item.key.name) || (item.key.name == "taming" && taming_off)) {
        error("E041", item.key.span, "`" + item.key.name + "` is given twice");
        continue;
      }
      if (!item.value) {
        if (item.key.name != "taming") {
          error("E043", item.value_span, "`off` only applies to `taming`");
        }
        taming_off = true;
        continue;
      }
      const auto v = constant_value(*item.value, "`" + item.key.name + "`");
      if (v) {
        given[item.key.name] = {*v, item.value->span};
      }
    }
    auto get = [&](const char* key) -> std::optional<std::pair<double, Span>> {
      if (auto it = given.find(key); it != given.end()) {
        return it->second;
      }
      return std::nullopt;
    };
    const auto T = get("T");
    const auto t0 = get("t0");
    const auto dt = get("dt");
    const auto taming = get("taming");
    if (T && !(std::isfinite(T->first) && T->first > 0)) {
      error("E043", T->second, "the final time T must be positive and finite");
    }
    if (dt && !(std::isfinite(dt->first) && dt->first > 0)) {
      error("E043", dt->second, "the step dt must be positive and finite");
    }
    if (t0 && !(std::isfinite(t0->first) && t0->first >= 0)) {
      error("E043", t0->second, "the start time t0 must be finite and not negative");
    }
    if (T && t0 && t0->first >= T->first) {
      error("E043", t0->second, "t0 must be smaller than T",
            "t0 is the smallest time trained and sampled, e.g. t0 = 1e-3");
    }
    if (T && dt && std::isfinite(T->first) && dt->first > T->first - (t0 ? t0->first : 0.0)) {
      error("E043", dt->second, "the step dt is longer than the whole interval [t0, T]");
    }
    if (taming && !(std::isfinite(taming->first) && taming->first >= 0)) {
      error("E043", taming->second, "the taming exponent must be finite and not negative",
            "write `taming = off` for plain Euler–Maruyama");
    }
    process_.time.T = T ? T->first : 0;
    process_.time.t0 = t0 ? t0->first : 0;
    process_.time.dt = dt ? dt->first : 0;
    if (taming) {
      process_.time.taming = taming->first;
    }
    if (!T) {
      error("E040", time_span(), "`time` needs the final time: T = VALUE");
    }
    if (!dt) {
      error("E040", time_span(), "`time` needs the step: dt = VALUE");
    }
  }

  Span time_span() const {
    const auto it = seen_statements_.find("time");
    return it != seen_statements_.end() ? it->second->keyword : Span{};
  }

  void learnables() {
    for (auto& [name, entry] : schedules_) {
      const ast::ScheduleDecl& d = *entry.decl;
      if (!d.learnable) {
        continue;
      }
      entry.learnable = -2;  // invalid until proven otherwise
      const double count = d.learnable->count.value;
      if (count != std::trunc(count) || count < 2 || count > kMaxKnots) {
        error("E044", d.learnable->count_span,
              "a learnable schedule needs between 2 and " + std::to_string(kMaxKnots) +
                  " knots, as a whole number");
        continue;
      }
      const ExprRef init =
          elaborate(*d.learnable->init, {{d.variable.name, leaf(Op::time, d.variable.span)}});
      if (!init) {
        continue;
      }
      if (init->stage == Stage::field || init->shape != Shape::scalar ||
          (init->reads & reads_knots) != 0) {
        error("E044",
              init->shape != Shape::scalar ? d.learnable->init->span
                                           : first_reading(init, kFieldReads | reads_knots).span,
              "the initial value of a learnable schedule must be a scalar function of time; "
              "this reads " +
                  what_it_reads(init));
        continue;
      }
      Learnable l{name, {}, {}, d.name.span};
      const auto n = static_cast<std::size_t>(count);
      const double t0 = process_.time.t0;
      const double T = process_.time.T;
      for (std::size_t i = 0; i < n; ++i) {
        const double t = t0 + (T - t0) * static_cast<double>(i) / static_cast<double>(n - 1);
        const double v = evaluate_scalar(init, EvalContext{t});
        if (!(std::isfinite(v) && v > 0)) {
          error("E044", d.learnable->init->span,
                "the initial value must be positive and finite at every knot; at t = " +
                    std::to_string(t) + " it is " + std::to_string(v),
                "knots are interpolated log-linearly, so values must be > 0");
          break;
        }
        l.knot_times.push_back(t);
        l.init_values.push_back(v);
      }
      if (l.init_values.size() == n) {
        entry.learnable = static_cast<int>(process_.learnables.size());
        process_.learnables.push_back(std::move(l));
      }
    }
  }

  /// Every schedule is checked once with its variable bound to t, so a
  /// schedule that reads a field is an error even if it is never used.
  void check_schedules() {
    for (auto& [name, entry] : schedules_) {
      const ast::ScheduleDecl& d = *entry.decl;
      if (d.learnable || !d.body) {
        continue;
      }
      const bool was_used = entry.used;
      const std::size_t errors_before = diagnostics_.error_count();
      const ExprRef e = elaborate(*d.body, {{d.variable.name, leaf(Op::time, d.variable.span)}});
      entry.used = was_used;
      if (!e) {
        if (diagnostics_.error_count() > errors_before) {
          entry.learnable = -2;
        }
        continue;
      }
      if (e->stage == Stage::field || e->shape != Shape::scalar) {
        const bool vector = e->shape != Shape::scalar;
        error(vector ? "E020" : "E030", vector ? d.body->span : first_reading(e, kFieldReads).span,
              "schedule `" + name + "` must be a scalar function of time alone; this " +
                  (vector ? "is a " + std::string(lang::name(e->shape))
                          : "reads " + what_it_reads(e)),
              vector ? "" : "write field-dependent terms in a function, e.g. g(t, x) = ...");
        entry.learnable = -2;
      }
    }
  }

  ExprRef main_expression(const ast::DriftDecl* d, const std::string& what) {
    return d ? checked_scalar(*d->value, what) : nullptr;
  }
  ExprRef main_expression(const ast::DiffusionDecl* d, const std::string& what) {
    return d ? checked_scalar(*d->value, what) : nullptr;
  }

  ExprRef checked_scalar(const ast::Expr& value, const std::string& what) {
    ExprRef e = elaborate(value, {});
    if (e && e->shape != Shape::scalar) {
      const bool matrix = e->shape == Shape::matrix;
      error("E020", value.span,
            "the " + what + " must be a scalar per pixel, not a " + lang::name(e->shape),
            matrix            ? "a diffusion tensor D enters the drift as div(D * grad(u))"
            : what == "drift" ? "did you mean div(...) of this vector?"
                              : "reduce it, e.g. norm(v)");
      return nullptr;
    }
    if (e && (e->reads & reads_kappa) != 0) {
      error("E030", value.span, "kappa exists only inside the noise filter");
      return nullptr;
    }
    return e;
  }

  void noise() {
    if (noise_ == nullptr) {
      return;
    }
    if (noise_->correlation_length) {
      const auto l = constant_value(*noise_->correlation_length, "the correlation length");
      if (l && !(std::isfinite(*l) && *l >= 0)) {
        error("E046", noise_->correlation_length->span,
              "the correlation length must be finite and not negative", "0 means white noise");
      }
      process_.noise.correlation_length = l.value_or(0.0);
    }
    if (noise_->filter) {
      const ast::NoiseFilter& f = *noise_->filter;
      ExprRef e = elaborate(*f.body, {{f.variable.name, leaf(Op::kappa, f.variable.span)}});
      if (e && (e->shape != Shape::scalar ||
                (e->reads & (reads_u | reads_u0 | reads_xy | reads_stencil)) != 0)) {
        error(e->shape != Shape::scalar ? "E020" : "E030",
              e->shape != Shape::scalar
                  ? f.body->span
                  : first_reading(e, reads_u | reads_u0 | reads_xy | reads_stencil).span,
              "a noise filter is a scalar function of the eigenvalue " + f.variable.name +
                  " and of t; this " +
                  (e->shape != Shape::scalar ? "is a " + std::string(lang::name(e->shape))
                                             : "reads " + what_it_reads(e)),
              "spatially varying noise belongs in `diffusion`");
        e = nullptr;
      }
      process_.noise.filter = e;
      if (e && process_.noise.correlation_length > 0) {
        error("E046", f.variable.span, "give either a correlation length or a filter, not both",
              "the exponential kernel is itself a filter; fold it into yours");
      }
    }
  }

  void required_statements() {
    auto missing = [&](const std::string& what, const std::string& hint) {
      diagnostics_.error("E040", file_, {0, 0}, "the process has no `" + what + "` statement",
                         hint);
    };
    if (process_decl_ == nullptr) {
      missing("process", "start the file with `process NAME`");
    }
    if (drift_ == nullptr) {
      missing("drift", "add `drift = EXPR` (`drift = 0` for none)");
    }
    if (diffusion_ == nullptr) {
      missing("diffusion", "add `diffusion = EXPR`, the noise coefficient g2");
    }
    if (time_ == nullptr) {
      missing("time", "add e.g. `time T = 1, t0 = 1e-3, dt = 1e-3, taming = off`");
    }
  }

  /// The definitions nothing uses. After errors the `used` flags are
  /// incomplete (elaboration stopped early), so only what the file never
  /// mentions counts, less what an error's note already showed as unused.
  void record_usage(Usage& usage, bool failed) const {
    const auto unused = [&](const std::string& name, bool used) {
      if (!failed) return !used;
      return !mentioned_.contains(name) && !noted_unused_.contains(name);
    };
    for (const auto& [name, entry] : params_) {
      if (unused(name, entry.used)) {
        usage.unused.push_back({"parameter", name, entry.decl->name.span});
      }
    }
    for (const auto& [name, entry] : schedules_) {
      if (unused(name, entry.used)) {
        usage.unused.push_back({"schedule", name, entry.decl->name.span});
      }
    }
    for (const auto& [name, entry] : functions_) {
      if (unused(name, entry.used)) {
        usage.unused.push_back({"function", name, entry.decl->name.span});
      }
    }
    std::sort(
        usage.unused.begin(), usage.unused.end(),
        [](const Usage::Unused& a, const Usage::Unused& b) { return a.span.begin < b.span.begin; });
  }
};

}  // namespace

std::optional<Process> elaborate(const ast::Module& module,
                                 const std::vector<ParamOverride>& overrides,
                                 Diagnostics& diagnostics, Usage* usage) {
  return Elaborator(module, diagnostics).run(overrides, usage);
}

}  // namespace spdec::lang
