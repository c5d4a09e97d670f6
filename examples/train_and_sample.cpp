// spdec as a C++ library: load a `.spde`, train a small score network for it
// for a few steps and sample a grid — no CLI, no run config. The same steps
// `spdec run train` and `spdec run sample` take (runtime/run/train_run.cpp adds
// checkpoints, EMA, logging and resumption around them).
//
//   build/examples/train_and_sample [FILE.spde] [STEPS] [OUT.png]
//
// Data: the first 512 Fashion-MNIST images at 16×16 when Debian's
// dataset-fashion-mnist is installed, else four synthetic images.
#include <torch/optim/adam.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "runtime/data/dataset.hpp"
#include "runtime/data/image_grid.hpp"
#include "runtime/nn/unet.hpp"
#include "runtime/process/bind.hpp"
#include "runtime/sampling/generate.hpp"
#include "runtime/training/objective.hpp"
#include "runtime/training/run_prior.hpp"

namespace {

constexpr std::int64_t kSide = 16;
constexpr std::int64_t kBatch = 32;

namespace sr = spdec::runtime;

/// Data in [-1, 1], [N, 1, 16, 16].
at::Tensor training_images() {
  if (std::filesystem::exists(sr::kFashionMnistDir)) {
    sr::DatasetSpec spec;
    spec.size = kSide;
    spec.resize = sr::ResizeMode::bilinear;
    spec.limit = 512;
    return sr::load_dataset(spec).to_float();
  }
  at::Tensor x = at::full({4, 1, kSide, kSide}, -0.8);
  x[0].narrow(2, 4, 8).fill_(0.8);
  x[1].narrow(1, 4, 8).fill_(0.8);
  x[2].narrow(1, 2, 12).narrow(2, 2, 12).fill_(0.5);
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string file =
      argc > 1 ? argv[1] : std::string(SPDEC_SOURCE_DIR) + "/library/perona_malik.spde";
  const int steps = argc > 2 ? std::atoi(argv[2]) : 200;
  const std::filesystem::path out = argc > 3 ? argv[3] : "example_samples.png";

  // 1. The process: parse, check and classify the .spde (its `size`, if it
  // declares one, set to the grid's side), then bind it to its kernels
  // (generated C++ on the CPU, cached) as the model its training plan names.
  sr::Binding binding;
  binding.device = at::kCPU;
  sr::BoundProcess bound;
  try {
    bound = sr::bind_file(file, kSide, binding);
  } catch (const std::invalid_argument& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  const std::shared_ptr<const spdec::lang::Process> process = bound.process;
  sr::ProcessModel* model = bound.model.get();
  const sr::ObjectiveChoice choice = sr::choose_objective(std::nullopt, *model);
  const auto objective = sr::make_objective(choice.kind, *model);
  std::cout << process->name << ": objective " << sr::name(choice.kind) << " (" << choice.reason
            << ")\n";

  // 3. A small U-Net and Adam.
  const at::Tensor data = training_images();
  sr::UNetOptions options;
  options.base_channels = 16;
  options.channel_mult = {1, 2};
  options.num_res_blocks = 1;
  options.attention_resolutions = {};
  options.dropout = 0.0;
  options.image_size = kSide;
  sr::UNet net(options);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));

  // 4. Training: draw a batch, times and noise; regress; step.
  const double time_scale = objective->max_time();
  const sr::Network network = [&net, time_scale](const at::Tensor& x, const at::Tensor& t) {
    return net->forward(x, t / time_scale);
  };
  for (int step = 0; step < steps; ++step) {
    const at::Tensor index = at::randint(data.size(0), {kBatch}, at::kLong);
    sr::TrainingDraw draw;
    draw.x0 = data.index_select(0, index);
    draw.step = static_cast<std::uint64_t>(step);
    draw.times = sr::training_times(kBatch, objective->min_time(), objective->max_time(),
                                    spdec::config::TimeSampling::uniform, 0, draw.step);
    const at::Tensor loss = objective->loss(network, draw);
    adam.zero_grad();
    loss.backward();
    adam.step();
    if ((step + 1) % 50 == 0 || step + 1 == steps) {
      std::cout << "step " << step + 1 << " loss " << loss.item<double>() << "\n";
    }
  }

  // 5. Sampling: the prior at T fitted on the data, then the PC sampler.
  const auto prior =
      sr::fit_run_prior(*model, choice.kind, data, spdec::config::PriorChoice::automatic, 0);
  sr::GenerateRequest request;
  request.n = 16;
  request.batch_size = 16;
  request.steps = 100;
  const at::Tensor samples = sr::generate(*model, net, choice.kind, prior, request);
  sr::save_image_grid(out, sr::clamp_to_range(samples, sr::ValueRange::minus_one_one));
  std::cout << "wrote " << out.string() << "\n";
  return 0;
}
