// Compute-at for the CPU emitter: row buffers for repeated stencil work.
//
// In an interior form (codegen/specialize_interior.cpp: `at` only on leaves,
// at plain offsets) a costly subexpression often appears several times
// shifted: Perona–Malik's drift reads the conductance of each of the four
// neighbour nodes, four translates of one expression. Evaluated per pixel,
// every conductance is computed four times. A translate class read at two or
// more offsets is instead computed once per pixel of a row into a row buffer
// (the class's canonical expression, anchored at the smallest leaf offset),
// and the pixel reads the buffers of rows y + dy at columns x + dx; a ring of
// rows per thread keeps the rows that the next pixel row reads again.
//
// Only the interior form is planned: the border keeps the general function
// (its ghost rule does not commute with translation). The values are the
// same floats: the canonical expression is the same operations on the same
// loads, so results are bit-identical to the per-pixel evaluation.
#pragma once

#include <map>
#include <vector>

#include "codegen/ir.hpp"

namespace spdec::codegen {

/// One translate class: `canonical` is evaluated at every pixel of a row;
/// the root reads it at column offsets [dx_min, dx_max] and rows
/// [dy_min, dy_max] from its pixel.
struct HoistedClass {
  NodeId canonical = kNoNode;
  std::int32_t dx_min = 0;
  std::int32_t dx_max = 0;
  std::int32_t dy_min = 0;
  std::int32_t dy_max = 0;
  [[nodiscard]] std::int32_t rows() const { return dy_max - dy_min + 1; }
};

/// Where the root reads a hoisted node: class `index` at (dx, dy).
struct HoistedRead {
  std::size_t index = 0;
  std::int32_t dx = 0;
  std::int32_t dy = 0;
};

struct HoistPlan {
  std::vector<HoistedClass> classes;
  std::map<NodeId, HoistedRead> reads;  ///< interior-form nodes replaced by buffer reads
  [[nodiscard]] bool empty() const { return classes.empty(); }
};

/// The plan for an interior form (nodes under a channel_sum are never
/// hoisted: they read other channels). `graph` grows by the canonical
/// expressions.
[[nodiscard]] HoistPlan plan_hoists(Graph& graph, NodeId interior_root);

}  // namespace spdec::codegen
