// The times a sampler visits, T = t_0 > t_1 > … > t_N = t₀, computed in
// double; the last one is t₀ exactly (assigned, not computed), so the final
// denoising happens where training's time range starts.
//
//   uniform  t_i = T + (i/N)(t₀ − T)                       (score_sde)
//   power    t_i = (T^{1/ρ} + (i/N)(t₀^{1/ρ} − T^{1/ρ}))^ρ  (EDM's ρ-spacing in t:
//            short steps near t₀, where the score changes fastest)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace spdec::runtime {

enum class GridKind { uniform, power };

struct TimeGrid {
  GridKind kind = GridKind::uniform;
  double rho = 7.0;  ///< power only
};

/// N + 1 times from T down to t0 (0 ≤ t0 < T, N ≥ 1); throws otherwise.
[[nodiscard]] std::vector<double> time_grid(double T, double t0, std::int64_t steps,
                                            const TimeGrid& grid = {});

}  // namespace spdec::runtime
