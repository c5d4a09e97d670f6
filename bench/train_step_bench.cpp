// Where a training step's time goes, and how fast sampling is (issue 6;
// docs/results.md, "Benchmarks"): for library processes on
// Fashion-MNIST-sized images, one training step split into data (a batch
// from the loader), forward simulation (the process model's perturb: exact
// marginals, the decoupled flow sweep, or the sde chain), the network's
// forward and backward (objective minus simulation), and the optimiser
// (Adam + EMA); then sampling images/s per sampler and step count. A
// benchmark, never a test.
//
//   build/bench/train_step_bench [--quick] [--json FILE] [--device cpu|cuda]
//
// Target (issue 6): forward simulation ≤ 10 % of a training step.
#include <torch/optim/adam.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/data/dataset.hpp"
#include "runtime/nn/ema.hpp"
#include "runtime/nn/unet.hpp"
#include "runtime/process/bind.hpp"
#include "runtime/process/preconditioner.hpp"
#include "runtime/process/process_model.hpp"
#include "runtime/sampling/generate.hpp"
#include "runtime/training/objective.hpp"
#include "runtime/training/run_prior.hpp"

namespace {

namespace sr = spdec::runtime;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kSide = 28;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Synchronises CUDA so that wall-clock splits mean something there.
void sync(const at::Device& device) {
  if (device.is_cuda()) (void)at::zeros({1}, at::TensorOptions().device(device)).cpu();
}

/// The decoupled flow scheme of every model (--flow), as `process.flow`.
sr::ModelOptions g_model_options{sr::FlowScheme::automatic, 80};

std::unique_ptr<sr::ProcessModel> model_of(const std::string& file, const at::Device& device) {
  sr::Binding binding;
  binding.device = device;
  binding.model = g_model_options;
  const auto path = (std::filesystem::path(SPDEC_SOURCE_DIR) / "library" / file).string();
  return sr::bind_file(path, kSide, binding).model;
}

at::Tensor data_images() {
  if (std::filesystem::exists(sr::kFashionMnistDir)) {
    sr::DatasetSpec spec;
    spec.size = kSide;
    spec.limit = 2048;
    return sr::load_dataset(spec).to_float();
  }
  return at::rand({2048, 1, kSide, kSide}) * 2 - 1;
}

sr::UNetOptions network_options() {
  sr::UNetOptions options;  // the quickstart's network
  options.base_channels = 16;
  options.channel_mult = {1, 2, 2};
  options.num_res_blocks = 1;
  options.attention_resolutions = {};
  options.dropout = 0.0;
  options.image_size = kSide;
  return options;
}

struct StepSplit {
  double data = 0, simulation = 0, network = 0, optimiser = 0;
  [[nodiscard]] double total() const { return data + simulation + network + optimiser; }
};

StepSplit time_training(sr::ProcessModel& model, const at::Tensor& data, std::int64_t batch,
                        int steps, const at::Device& device) {
  const auto choice = sr::choose_objective(std::nullopt, model);
  // The parameterisation training picks (the denoiser's preconditioning
  // from the data's spectrum, as `spdec run train` fits it).
  sr::ObjectiveOptions options;
  options.parameterisation = sr::choose_parameterisation(std::nullopt, choice.kind, model);
  std::optional<sr::Preconditioner> preconditioner;
  if (options.parameterisation == sr::Parameterisation::denoiser) {
    preconditioner.emplace(sr::gaussian_fit(data.narrow(0, 0, 1000), model.noise().basis()));
    options.preconditioner = &*preconditioner;
  }
  const auto objective = sr::make_objective(choice.kind, model, options);
  sr::UNet net(network_options());
  sr::UNet ema(network_options());
  net->to(device);
  ema->to(device);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
  const double scale = objective->max_time();
  const sr::Network network = [&](const at::Tensor& x, const at::Tensor& t) {
    return net->forward(x, t / scale);
  };
  StepSplit split;
  for (int step = -2; step < steps; ++step) {  // two warm-up steps
    StepSplit one;
    auto start = Clock::now();
    const at::Tensor index = at::randint(data.size(0), {batch}, at::kLong);
    sr::TrainingDraw draw;
    draw.x0 = data.index_select(0, index).to(device);
    draw.step = static_cast<std::uint64_t>(step + 2);
    draw.times = sr::training_times(batch, objective->min_time(), objective->max_time(),
                                    spdec::config::TimeSampling::uniform, 0, draw.step);
    sync(device);
    one.data = seconds_since(start);
    start = Clock::now();
    {
      const at::NoGradGuard no_grad;
      (void)model.perturb(draw.x0, draw.times, sr::NoiseSource{0, draw.step, {}, {}});
    }
    sync(device);
    one.simulation = seconds_since(start);
    start = Clock::now();
    const at::Tensor loss = objective->loss(network, draw);
    adam.zero_grad();
    loss.backward();
    sync(device);
    // The objective simulates again inside loss(): subtract it.
    one.network = std::max(seconds_since(start) - one.simulation, 0.0);
    start = Clock::now();
    adam.step();
    sr::ema_update(*ema, *net, 0.999);
    sync(device);
    one.optimiser = seconds_since(start);
    if (step >= 0) {
      split.data += one.data / steps;
      split.simulation += one.simulation / steps;
      split.network += one.network / steps;
      split.optimiser += one.optimiser / steps;
    }
  }
  return split;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string json_path;
  std::string device_name = "cpu";
  CLI::App app{"Where a training step's time goes, and sampling images/s (a benchmark)",
               "train_step_bench"};
  app.add_flag("--quick", quick, "fewer repetitions");
  app.add_option("--json", json_path, "also write the results to this JSON file");
  app.add_option("--device", device_name, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  std::string flow = "auto";
  app.add_option("--flow", flow, "decoupled flow: auto (fed where it applies), explicit or fed")
      ->check(CLI::IsMember(spdec::config::kFlows.names()));
  CLI11_PARSE(app, argc, argv);
  g_model_options.flow = *spdec::config::kFlows.parse(flow);
  at::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  const at::Device device = device_name == "cuda" ? at::Device(at::kCUDA) : at::Device(at::kCPU);
  const int steps = quick ? 3 : 10;
  const std::int64_t batch = 32;
  const at::Tensor data = data_images();
  nlohmann::json out = {{"device", device_name},
                        {"flow", flow},
                        {"threads", at::get_num_threads()},
                        {"batch", batch},
                        {"image", {1, kSide, kSide}},
                        {"training", nlohmann::json::array()},
                        {"sampling", nlohmann::json::array()}};

  std::printf(
      "training step, batch %lld of 1x%lldx%lld, quickstart U-Net, %s (%d threads), flow %s\n",
      static_cast<long long>(batch), static_cast<long long>(kSide), static_cast<long long>(kSide),
      device_name.c_str(), at::get_num_threads(), flow.c_str());
  std::printf("%-20s %-10s %9s %9s %9s %9s %9s %8s\n", "process", "objective", "data ms", "sim ms",
              "net ms", "optim ms", "step ms", "sim %");
  for (const char* file : {"ve.spde", "heat.spde", "perona_malik.spde", "perona_malik_sde.spde"}) {
    auto model = model_of(file, device);
    const StepSplit s = time_training(*model, data, batch, steps, device);
    const std::string objective = sr::name(sr::choose_objective(std::nullopt, *model).kind);
    const double share = 100.0 * s.simulation / s.total();
    std::printf("%-20s %-10s %9.2f %9.2f %9.2f %9.2f %9.2f %7.1f%%%s\n", file, objective.c_str(),
                1e3 * s.data, 1e3 * s.simulation, 1e3 * s.network, 1e3 * s.optimiser,
                1e3 * s.total(), share, share > 10.0 ? "  (target <= 10 %: missed)" : "");
    out["training"].push_back({{"process", file},
                               {"objective", objective},
                               {"data_ms", 1e3 * s.data},
                               {"simulation_ms", 1e3 * s.simulation},
                               {"network_ms", 1e3 * s.network},
                               {"optimiser_ms", 1e3 * s.optimiser},
                               {"step_ms", 1e3 * s.total()},
                               {"images_per_s", static_cast<double>(batch) / s.total()},
                               {"simulation_share", s.simulation / s.total()}});
  }

  std::printf(
      "\nsampling, 64 images, untrained quickstart U-Net (speed does not depend on weights)\n");
  std::printf("%-20s %-10s %6s %9s %9s\n", "process", "sampler", "steps", "seconds", "images/s");
  for (const char* file : {"ve.spde", "perona_malik.spde"}) {
    auto model = model_of(file, device);
    const auto kind = sr::choose_objective(std::nullopt, *model).kind;
    const auto prior = sr::fit_run_prior(*model, kind, data.narrow(0, 0, 256).to(device),
                                         spdec::config::PriorChoice::automatic, 0);
    sr::UNet net(network_options());
    net->to(device);
    // The posterior sampler drives a denoiser network (the data's spectrum
    // for its preconditioning); the others an ε-network.
    sr::NetworkHead denoiser_head;
    denoiser_head.objective = kind;
    denoiser_head.parameterisation = sr::Parameterisation::denoiser;
    denoiser_head.preconditioner.emplace(
        sr::gaussian_fit(data.narrow(0, 0, 1000), model->noise().basis()));
    sr::NetworkHead noise_head;
    noise_head.objective = kind;
    for (const char* sampler : {"posterior", "pc", "ode", "ancestral"}) {
      if (std::string(sampler) == "ancestral" && !model->has_ancestral()) continue;
      const bool posterior = std::string(sampler) == "posterior";
      sr::GenerateRequest request;
      request.n = 64;
      request.batch_size = 64;
      request.sampler = *spdec::config::kSamplers.parse(sampler);
      request.steps = quick ? 10 : 100;
      const auto start = Clock::now();
      (void)sr::generate(*model, net, posterior ? denoiser_head : noise_head, prior, request);
      sync(device);
      const double seconds = seconds_since(start);
      std::printf("%-20s %-10s %6lld %9.2f %9.1f\n", file, sampler,
                  static_cast<long long>(request.steps), seconds, 64.0 / seconds);
      out["sampling"].push_back({{"process", file},
                                 {"sampler", sampler},
                                 {"steps", request.steps},
                                 {"seconds", seconds},
                                 {"images_per_s", 64.0 / seconds}});
    }
  }
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  return 0;
}
