// The `spdec run edit` job (SDEdit: "SDEdit: Guided Image Synthesis and
// Editing with Stochastic Differential Equations", Meng et al. 2022, arXiv
// 2108.01073): guide images — the files given, or data images of the
// held-out split made stroke paintings (runtime/data/strokes.hpp) — are
// pushed forward by the trained run's process to s = t0 + strength·(T − t0)
// and the run's sampler goes back from there. Writes into run.dir:
//   <edit.output>.png   one row per guide: the guide, one edit at each
//                       strength of edit.sweep (seed 0), then edit.seeds
//                       edits at edit.strength
//   <edit.output>.npy   the edits at edit.strength, [N·seeds, C, H, W]
//                       (edit i of guide i mod N)
//   <edit.output>.json  per strength: the start time, steps, and the
//                       faithfulness (RMS distance of each edit, after the
//                       stroke simulator's median filter, to its guide)
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "lang/process.hpp"
#include "runtime/config/run_config.hpp"

namespace spdec::runtime {

struct EditRunFiles {
  std::filesystem::path png;
  std::filesystem::path npy;
  std::filesystem::path json;
};

/// `inputs`: guide image files (PNG/JPEG, any size: brought to the
/// checkpoint's); empty: edit.images data images made strokes. Throws
/// naming what is wrong (no checkpoint, an unreadable input, a strength the
/// process cannot start from).
EditRunFiles run_edit(const config::RunConfig& config, const lang::Process& process,
                      const std::vector<std::string>& inputs, std::ostream& log);

}  // namespace spdec::runtime
