// The per-pixel function emitter shared by the C++ and CUDA targets.
//
// It walks the IR from the root and prints one `const float vK = ...;` per
// distinct (node, position, channel). Positions are where `at` nodes lead:
//   - interior form: at() sits only on leaves, and a position is just
//     (x + di, y + dj) — plain indexing the host compiler can vectorise;
//   - general form: each at() maps its parent position through the ghost
//     rule (clamp / wrap; Dirichlet keeps the raw index, an `inside` flag and
//     a clamped index for the memory access, so reads stay in bounds even
//     where their value is then replaced by the ghost value).
// channel_sum opens a loop over channels; what is printed inside the loop is
// forgotten when it closes (a frame of the memo), so nothing leaks out of
// scope.
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <ranges>
#include <sstream>
#include <tuple>
#include <vector>

#include "codegen/emit.hpp"
#include "codegen/hoist.hpp"
#include "lang/diagnostics.hpp"
#include "lang/ops.hpp"

namespace spdec::codegen {

std::string mangle(const std::string& name) {
  std::string out;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out += ok ? c : '_';
  }
  return out.empty() ? std::string("_") : out;
}

std::string float_literal(double value) {
  if (std::isnan(value)) return "SPDEC_NAN";
  if (std::isinf(value)) return value > 0 ? "SPDEC_INF" : "(-SPDEC_INF)";
  const auto rounded = static_cast<float>(value);
  if (std::isinf(rounded)) return value > 0 ? "SPDEC_INF" : "(-SPDEC_INF)";
  // 9 significant digits round-trip every float.
  std::array<char, 64> buffer{};
  const auto written = std::to_chars(buffer.data(), buffer.data() + buffer.size(),
                                     static_cast<double>(rounded), std::chars_format::general, 9);
  std::string text(buffer.data(), written.ptr);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  text += "f";
  return value < 0 ? "(" + text + ")" : text;
}

std::string variance_step(const StencilProgram& program, const Dialect& dialect,
                          const std::string& var, const std::string& h, const std::string& g2,
                          const std::string& params) {
  if (program.noise_rate_param < 0) return var + " += " + h + " * " + g2 + ";";
  const std::string& m = dialect.math_prefix;
  return "{ const float z = 2.0f * " + h + " * " + params + "[" +
         std::to_string(program.noise_rate_param) + "]; " + var + " = " + m + "expf(z) * " + var +
         " + " + h + " * (z != 0.0f ? " + m + "expm1f(z) / z : 1.0f) * " + g2 + "; }";
}

std::string origin_comment(const StencilProgram& program, const char* what, lang::Span span) {
  if (!program.file) return std::string("// ") + what + "\n";
  const lang::LineColumn at = program.file->line_column(span.begin);
  return std::string("// ") + what + ": line " + std::to_string(at.line) + ", column " +
         std::to_string(at.column) + " of the process source\n";
}

namespace {

struct Position {
  std::string x;  ///< column used for addressing (always inside the grid)
  std::string y;
  std::string raw_x;  ///< the column before the ghost rule (indicator, chaining)
  std::string raw_y;
  std::string inside;  ///< Dirichlet: a bool variable, "" = always inside
};

class PixelEmitter {
 public:
  PixelEmitter(const StencilProgram& program, bool interior, const Dialect& dialect,
               const HoistPlan* hoists)
      : program_(program),
        g_(program.graph),
        interior_(interior),
        dialect_(dialect),
        hoists_(hoists) {
    positions_.push_back({"x", "y", "x", "y", ""});
    memo_.emplace_back();
    position_memo_.emplace_back();
  }

  std::string body(NodeId root) {
    const std::string result = value(root, 0, "c");
    line("return " + result + ";");
    return out_.str();
  }

 private:
  using Key = std::tuple<NodeId, std::size_t, std::string>;

  void line(const std::string& text) {
    out_ << std::string(static_cast<std::size_t>(indent_) * 2, ' ') << text << "\n";
  }

  std::string fresh(const char* prefix) { return prefix + std::to_string(counter_++); }

  std::string value(NodeId id, std::size_t pos, const std::string& chan) {
    const Node& node = g_[id];
    if (node.kind == Kind::constant) return float_literal(node.value);
    if (node.kind == Kind::param) return "P[" + std::to_string(node.a) + "]";
    const Key key{id, pos, chan};
    for (const auto& frame : std::views::reverse(memo_)) {
      if (const auto found = frame.find(key); found != frame.end()) return found->second;
    }
    const std::string text = hoisted(id, pos, chan).value_or("");
    std::string name = fresh("v");
    line("const float " + name + " = " + (text.empty() ? compute(node, pos, chan) : text) + ";");
    memo_.back().emplace(key, name);
    return name;
  }

  /// A node the hoist plan computes into row buffers: the read of buffer
  /// h<class>_<row> at the pixel's column plus the offset. Only at the pixel
  /// itself and in its own channel (the plan never covers other channels).
  std::optional<std::string> hoisted(NodeId id, std::size_t pos, const std::string& chan) const {
    if (hoists_ == nullptr || pos != 0 || chan != "c") return std::nullopt;
    const auto found = hoists_->reads.find(id);
    if (found == hoists_->reads.end()) return std::nullopt;
    const HoistedRead& read = found->second;
    const HoistedClass& cls = hoists_->classes.at(read.index);
    return "h" + std::to_string(read.index) + "_" + std::to_string(read.dy - cls.dy_min) + "[" +
           offset_text("x", read.dx) + "]";
  }

  std::string compute(const Node& node, std::size_t pos, const std::string& chan) {
    const Position& p = positions_.at(pos);
    switch (node.kind) {
      case Kind::load: {
        const std::string index =
            "sample + ((long long)" + chan + " * H + " + p.y + ") * W + " + p.x + "]";
        switch (node.field) {
          case Field::u:
            return "u[" + index;
          case Field::u0:
            return "u0[" + index;
          case Field::frozen:
            return "v[" + index;
          case Field::cached:
            return "K[" + std::to_string(node.a) + " * KS + " + index;
        }
        break;
      }
      case Kind::coord_x:
        return "(float)" + p.x;
      case Kind::coord_y:
        return "(float)" + p.y;
      case Kind::indicator:
        return "((" + p.raw_x + " == x && " + p.raw_y + " == y) ? 1.0f : 0.0f)";
      case Kind::at: {
        const std::size_t moved = position(pos, node.a, node.b);
        const std::string inner = value(node.args[0], moved, chan);
        const std::string& inside = positions_.at(moved).inside;
        return inside.empty()
                   ? inner
                   : "(" + inside + " ? " + inner + " : " + float_literal(node.value) + ")";
      }
      case Kind::channel_sum:
        return channel_sum(node, pos);
      case Kind::apply:
        return apply(node, pos, chan);
      case Kind::constant:
      case Kind::param:
        break;
    }
    lang::internal_error("codegen: unexpected node in the pixel emitter");
  }

  std::string channel_sum(const Node& node, std::size_t pos) {
    std::string sum = fresh("s");
    const std::string channel = fresh("c");
    line("float " + sum + " = 0.0f;");
    line("for (int " + channel + " = 0; " + channel + " < C; ++" + channel + ") {");
    ++indent_;
    memo_.emplace_back();
    position_memo_.emplace_back();
    const std::string term = value(node.args[0], pos, channel);
    line(sum + " += " + term + ";");
    memo_.pop_back();
    position_memo_.pop_back();
    --indent_;
    line("}");
    return sum;
  }

  /// The position reached from `parent` by at(·, di, dj).
  std::size_t position(std::size_t parent, std::int32_t di, std::int32_t dj) {
    const auto key = std::tuple{parent, di, dj};
    for (const auto& frame : std::views::reverse(position_memo_)) {
      if (const auto found = frame.find(key); found != frame.end()) return found->second;
    }
    const Position from = positions_.at(parent);
    Position to;
    if (interior_) {
      // Interior form: at() only on leaves, offsets from the pixel itself.
      to.x = to.raw_x = offset_text(from.x, di);
      to.y = to.raw_y = offset_text(from.y, dj);
    } else {
      switch (program_.boundary) {
        case lang::BoundaryKind::neumann:
          to.x = to.raw_x = declare_int("spdec_clamp(" + offset_text(from.x, di) + ", W)");
          to.y = to.raw_y = declare_int("spdec_clamp(" + offset_text(from.y, dj) + ", H)");
          break;
        case lang::BoundaryKind::periodic:
          to.x = to.raw_x = declare_int("spdec_wrap(" + offset_text(from.x, di) + ", W)");
          to.y = to.raw_y = declare_int("spdec_wrap(" + offset_text(from.y, dj) + ", H)");
          break;
        case lang::BoundaryKind::dirichlet: {
          to.raw_x = declare_int(offset_text(from.raw_x, di));
          to.raw_y = declare_int(offset_text(from.raw_y, dj));
          to.x = declare_int("spdec_clamp(" + to.raw_x + ", W)");
          to.y = declare_int("spdec_clamp(" + to.raw_y + ", H)");
          to.inside = fresh("in");
          std::string test = to.raw_x + " >= 0 && " + to.raw_x + " < W && " + to.raw_y +
                             " >= 0 && " + to.raw_y + " < H";
          if (!from.inside.empty()) test = from.inside + " && " + test;
          line("const bool " + to.inside + " = " + test + ";");
          break;
        }
      }
    }
    positions_.push_back(to);
    position_memo_.back().emplace(key, positions_.size() - 1);
    return positions_.size() - 1;
  }

  static std::string offset_text(const std::string& base, std::int32_t d) {
    if (d == 0) return base;
    return "(" + base + (d > 0 ? " + " : " - ") + std::to_string(std::abs(d)) + ")";
  }

  std::string declare_int(const std::string& text) {
    std::string name = fresh("i");
    line("const int " + name + " = " + text + ";");
    return name;
  }

  std::string apply(const Node& node, std::size_t pos, const std::string& chan) {
    std::vector<std::string> operands;
    for (std::size_t i = 0; i < node.arity; ++i) {
      operands.push_back(value(node.args.at(i), pos, chan));
    }
    // x^2 as a product: exact, and no call for the most common power.
    if (node.op == lang::Op::pow && g_[node.args[1]].is_constant(2.0)) {
      return "(" + operands[0] + " * " + operands[0] + ")";
    }
    return lang::c_expression(node.op, operands, dialect_.math_prefix);
  }

  const StencilProgram& program_;
  const Graph& g_;
  bool interior_;
  const Dialect& dialect_;
  const HoistPlan* hoists_;
  std::ostringstream out_;
  int indent_ = 1;
  int counter_ = 0;
  std::vector<Position> positions_;
  std::vector<std::map<Key, std::string>> memo_;
  std::vector<std::map<std::tuple<std::size_t, std::int32_t, std::int32_t>, std::size_t>>
      position_memo_;
};

}  // namespace

std::string hoist_params(const HoistPlan& plan) {
  std::string text;
  for (std::size_t j = 0; j < plan.classes.size(); ++j) {
    for (std::int32_t k = 0; k < plan.classes[j].rows(); ++k) {
      text += ", const float* SPDEC_RESTRICT h" + std::to_string(j) + "_" + std::to_string(k);
    }
  }
  return text;
}

std::string hoist_args(const HoistPlan& plan) {
  std::string text;
  for (std::size_t j = 0; j < plan.classes.size(); ++j) {
    for (std::int32_t k = 0; k < plan.classes[j].rows(); ++k) {
      text += ", h" + std::to_string(j) + "_" + std::to_string(k);
    }
  }
  return text;
}

std::string emit_pixel_function(const StencilProgram& program, NodeId root, bool interior,
                                const std::string& name, const Dialect& dialect, bool fed_fields,
                                const HoistPlan* hoists) {
  PixelEmitter emitter(program, interior, dialect, hoists);
  const std::string body = emitter.body(root);
  std::string text = dialect.function_qualifier + " float " + name +
                     "(const float* SPDEC_RESTRICT u, const float* SPDEC_RESTRICT u0, " +
                     (fed_fields ? std::string(kFedFieldParams) + ", " : std::string()) +
                     "const float* SPDEC_RESTRICT P, long long sample, int C, int H, int W, "
                     "int c, int x, int y" +
                     (hoists != nullptr ? hoist_params(*hoists) : std::string()) + ") {\n";
  if (fed_fields) text += "  (void)v; (void)K; (void)KS;\n";
  text += "  (void)u; (void)u0; (void)P; (void)sample; (void)C; (void)H; (void)W; (void)c;\n";
  text += "  (void)x; (void)y;\n";
  return text + body + "}\n";
}

}  // namespace spdec::codegen
