// The `spdec run forward` job: simulate a run's process on a few images and
// write the strip (forward.png: rows = images, columns = times, labelled),
// the states (forward.npy: float32 [times, images, C, H, W]) and a report
// (forward.json: times, per-time statistics, warnings) into the run directory.
// In a latent run (model.autoencoder) the process runs on the images'
// latents: forward.npy holds the latent states, forward.png shows them decoded.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "lang/process.hpp"
#include "runtime/config/run_config.hpp"

namespace spdec::runtime {

struct ForwardRunFiles {
  std::filesystem::path png;
  std::filesystem::path npy;
  std::filesystem::path json;
};

/// Runs the job for a loaded config and its checked process; `log` gets a
/// line per stage. Throws std::runtime_error (data, I/O, backend) with a
/// message naming what failed.
ForwardRunFiles run_forward(const config::RunConfig& config, const lang::Process& process,
                            std::ostream& log);

}  // namespace spdec::runtime
