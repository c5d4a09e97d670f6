#include "lang/linear_rate.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "lang/ops.hpp"

namespace spdec::lang {

namespace {

/// True for the ops whose operand is read at neighbours (every stencil,
/// shift and gauss included): their dependence on u belongs to the flow, not
/// to the pointwise rate.
bool is_stencil(Op op) { return op_info(op).kind == OpKind::stencil; }

/// Whether e reads u outside every stencil (a "bare" u).
bool reads_bare_u(const ExprRef& e) {
  if ((e->reads & reads_u) == 0 || is_stencil(e->op)) return false;
  if (e->op == Op::field_u) return true;
  for (const ExprRef& arg : e->args) {
    if (reads_bare_u(arg)) return true;
  }
  return false;
}

bool time_only(const ExprRef& e) { return e->stage != Stage::field && e->shape == Shape::scalar; }

/// The coefficient of bare u in e, when e is c·u + (terms without bare u)
/// with c time-only; nullopt when a bare u enters any other way. A null
/// ExprRef is the coefficient 0.
class RateOf {
 public:
  std::optional<ExprRef> operator()(const ExprRef& e) {
    if (!reads_bare_u(e)) return ExprRef{};
    const auto& a = e->args;
    switch (e->op) {
      case Op::field_u:
        return constant(1.0, e->span);
      case Op::neg:
        return map((*this)(a[0]), [&](const ExprRef& c) { return unary(Op::neg, c, e->span); });
      case Op::add:
      case Op::sub:
        return combine(e->op, (*this)(a[0]), (*this)(a[1]), e->span);
      case Op::mul:
        if (time_only(a[0])) return scaled(a[0], (*this)(a[1]), Op::mul, e->span);
        if (time_only(a[1])) return scaled(a[1], (*this)(a[0]), Op::mul, e->span);
        return refuse(e);
      case Op::div:
        if (time_only(a[1])) return scaled(a[1], (*this)(a[0]), Op::div, e->span);
        return refuse(e);
      default:
        return refuse(e);
    }
  }

  ExprRef refused;  ///< the first term that is not c(t)·u

 private:
  std::optional<ExprRef> refuse(const ExprRef& e) {
    if (!refused) refused = e;
    return std::nullopt;
  }

  template <class F>
  static std::optional<ExprRef> map(const std::optional<ExprRef>& c, F&& f) {
    if (!c) return std::nullopt;
    return *c ? f(*c) : ExprRef{};
  }

  static std::optional<ExprRef> combine(Op op, const std::optional<ExprRef>& a,
                                        const std::optional<ExprRef>& b, Span span) {
    if (!a || !b) return std::nullopt;
    if (!*b) return *a;
    if (!*a) return op == Op::sub ? unary(Op::neg, *b, span) : *b;
    return binary(op, *a, *b, span);
  }

  /// factor·c (op mul) or c/factor (op div).
  static std::optional<ExprRef> scaled(const ExprRef& factor, const std::optional<ExprRef>& c,
                                       Op op, Span span) {
    return map(c, [&](const ExprRef& x) {
      return op == Op::mul ? binary(Op::mul, factor, x, span) : binary(Op::div, x, factor, span);
    });
  }
};

}  // namespace

namespace {

/// The term as written. A span ends at its last operand, so a bracketed
/// last operand lacks its `)`s: they are taken from the text after it.
std::string quoted(const ExprRef& term, const SourcePtr& file) {
  const bool in_file = file && term->span.size() > 0 && term->span.end <= file->text().size();
  if (!in_file) return "`" + to_string(term) + "`";
  const std::string& text = file->text();
  std::string out(file->slice(term->span));
  auto open = std::count(out.begin(), out.end(), '(') - std::count(out.begin(), out.end(), ')');
  for (std::size_t at = term->span.end; open > 0 && at < text.size(); ++at) {
    if (text[at] == ')') {
      --open;
    } else if (text[at] != ' ' && text[at] != '\t') {
      break;
    }
    out += text[at];
  }
  return "`" + out + "`";
}

}  // namespace

LinearRate linear_rate(const ExprRef& drift, const SourcePtr& file) {
  LinearRate out;
  if (!drift) return out;
  RateOf rate_of;
  const std::optional<ExprRef> rate = rate_of(drift);
  if (!rate) {
    out.refusal = "term " + quoted(rate_of.refused, file) + " reads u pointwise but is not c(t)*u";
    return out;
  }
  if (*rate && !(*rate)->is_constant(0.0)) out.rate = *rate;
  return out;
}

}  // namespace spdec::lang
