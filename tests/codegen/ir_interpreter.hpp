// A double-precision interpreter of the stencil IR for the compiler's
// oracle tests: it evaluates a root at a pixel of a small image, node by
// node, with the ghost rules of codegen/ir.hpp written out by index. It
// shares nothing with the emitters or the LibTorch reference evaluator but
// the op table's IEEE evaluation of scalar operations, so what it computes
// is the discretisation the lowering produced, not a second implementation
// of the lowering.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "codegen/program.hpp"
#include "lang/evaluate.hpp"

namespace spdec::test {

/// C channels × H rows × W columns, row-major per channel.
struct Image {
  std::int32_t C = 1;
  std::int32_t H = 0;
  std::int32_t W = 0;
  std::vector<double> u;
  std::vector<double> u0;

  [[nodiscard]] double value(const std::vector<double>& field, std::int32_t c, std::int32_t x,
                             std::int32_t y) const {
    const auto index =
        (static_cast<std::size_t>(c) * static_cast<std::size_t>(H) + static_cast<std::size_t>(y)) *
            static_cast<std::size_t>(W) +
        static_cast<std::size_t>(x);
    return field.empty() ? 0.0 : field.at(index);
  }
};

class IrInterpreter {
 public:
  /// The program's time-stage params are evaluated at time t.
  IrInterpreter(const codegen::StencilProgram& program, const Image& image, double t)
      : program_(program), image_(image) {
    lang::EvalContext context;
    context.t = t;
    for (const codegen::HostParam& param : program.params) {
      params_.push_back(lang::evaluate_scalar(param.expr, context));
    }
  }

  /// The root's value at pixel (x, y) of channel c.
  double at_pixel(codegen::NodeId root, std::int32_t x, std::int32_t y, std::int32_t c = 0) {
    return value(root, x, y, c);
  }

  /// A whole field [C][H][W] of the root.
  std::vector<double> field(codegen::NodeId root) {
    std::vector<double> out;
    for (std::int32_t c = 0; c < image_.C; ++c) {
      for (std::int32_t y = 0; y < image_.H; ++y) {
        for (std::int32_t x = 0; x < image_.W; ++x) out.push_back(value(root, x, y, c));
      }
    }
    return out;
  }

 private:
  double value(codegen::NodeId id, std::int32_t x, std::int32_t y, std::int32_t c) {
    const auto key = std::tuple{id, x, y, c};
    if (const auto found = memo_.find(key); found != memo_.end()) return found->second;
    const double v = uncached(id, x, y, c);
    memo_.emplace(key, v);
    return v;
  }

  double uncached(codegen::NodeId id, std::int32_t x, std::int32_t y, std::int32_t c) {
    using codegen::Kind;
    const codegen::Node& node = program_.graph[id];
    switch (node.kind) {
      case Kind::constant:
        return node.value;
      case Kind::param:
        return params_.at(static_cast<std::size_t>(node.a));
      case Kind::load:
        if (node.field == codegen::Field::u0) return image_.value(image_.u0, c, x, y);
        if (node.field == codegen::Field::u) return image_.value(image_.u, c, x, y);
        throw std::logic_error("ir_interpreter: FED fields are not interpreted");
      case Kind::coord_x:
        return x;
      case Kind::coord_y:
        return y;
      case Kind::indicator:
        throw std::logic_error("ir_interpreter: indicators belong to derivative roots");
      case Kind::channel_sum: {
        double sum = 0;
        for (std::int32_t k = 0; k < image_.C; ++k) sum += value(node.args[0], x, y, k);
        return sum;
      }
      case Kind::at:
        return ghost(node, x + node.a, y + node.b, c);
      case Kind::apply: {
        std::array<double, 3> operands{};
        for (std::size_t i = 0; i < node.arity; ++i)
          operands.at(i) = value(node.args.at(i), x, y, c);
        return lang::apply_scalar(node.op, operands.data());
      }
    }
    throw std::logic_error("ir_interpreter: unknown node kind");
  }

  /// args[0] at G(q): clamp (neumann), wrap (periodic), or the ghost value
  /// outside the grid (dirichlet) — LANGUAGE.md §12.
  double ghost(const codegen::Node& node, std::int32_t qx, std::int32_t qy, std::int32_t c) {
    const std::int32_t w = image_.W;
    const std::int32_t h = image_.H;
    const bool inside = qx >= 0 && qx < w && qy >= 0 && qy < h;
    if (!inside) {
      switch (program_.boundary) {
        case lang::BoundaryKind::neumann:
          qx = std::min(std::max(qx, 0), w - 1);
          qy = std::min(std::max(qy, 0), h - 1);
          break;
        case lang::BoundaryKind::periodic:
          qx = ((qx % w) + w) % w;
          qy = ((qy % h) + h) % h;
          break;
        case lang::BoundaryKind::dirichlet:
          return node.value;
      }
    }
    return value(node.args[0], qx, qy, c);
  }

  const codegen::StencilProgram& program_;
  const Image& image_;
  std::vector<double> params_;
  std::map<std::tuple<codegen::NodeId, std::int32_t, std::int32_t, std::int32_t>, double> memo_;
};

}  // namespace spdec::test
