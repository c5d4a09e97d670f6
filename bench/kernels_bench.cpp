// Benchmark (not a test): the generated kernels of library/perona_malik.spde
// against the same work written with LibTorch tensor ops, on the CPU (and the
// GPU when one is present).
//
//   build/bench/kernels_bench [--quick] [--json FILE]
//
// For drift, flow_steps (10 noise-free steps) and forward_step (tamed EM with
// fresh noise) at batch 128 x 1 x 28 x 28 and 128 x 3 x 64 x 64 it prints the
// median time, pixels/s, the effective memory bandwidth (the bytes the step
// must move at least: read u, write the result, plus b's round trip when
// tamed) and the speed-up over LibTorch. Two LibTorch baselines: a
// hand-written fused-as-far-as-LibTorch-goes version (`torch`), and the
// reference evaluator (`reference`: the IR interpreted op by op). Both are
// checked against the compiled result before timing.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "codegen/pipeline.hpp"
#include "lang/check.hpp"
#include "runtime/kernels/fed_flow.hpp"
#include "runtime/kernels/process_kernels.hpp"

namespace {

using spdec::runtime::NoiseSource;
using spdec::runtime::ProcessKernels;

/// The median time of `work`; a CUDA result is waited for by reading one
/// element (a 4-byte copy: LibTorch 1.x has no device-synchronise without its
/// CUDA headers).
double median_seconds(const std::function<at::Tensor()>& work, double budget_seconds) {
  const auto run = [&] {
    const at::Tensor out = work();
    if (out.is_cuda()) (void)out.flatten()[0].item<float>();
  };
  run();  // warm-up (JIT'd code paged in, caches, allocator)
  std::vector<double> times;
  const auto start = std::chrono::steady_clock::now();
  while (times.size() < 3 ||
         (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
              budget_seconds &&
          times.size() < 200)) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

/// perona_malik's drift written with LibTorch ops (neumann, scheme paper,
/// gradient difference): replicate padding gives the clamped ghost values.
struct TorchPeronaMalik {
  double alpha1 = 0;
  double lambda1 = 0;

  [[nodiscard]] at::Tensor drift(const at::Tensor& u) const {
    const std::int64_t H = u.size(2);
    const std::int64_t W = u.size(3);
    const at::Tensor padded = at::replication_pad2d(u, {2, 2, 2, 2});
    const auto s = [&](std::int64_t dx, std::int64_t dy) {
      return padded.narrow(2, 2 + dy, H).narrow(3, 2 + dx, W);
    };
    const double inv_l2 = 1.0 / (lambda1 * lambda1);
    const auto k = [&](std::int64_t a, std::int64_t b) {
      const at::Tensor gx = s(a + 1, b) - s(a - 1, b);
      const at::Tensor gy = s(a, b + 1) - s(a, b - 1);
      return alpha1 * at::rsqrt(1.0 + (gx * gx + gy * gy) * inv_l2);
    };
    const at::Tensor c = s(0, 0);
    return k(1, 0) * (s(1, 0) - c) - k(-1, 0) * (c - s(-1, 0)) + k(0, 1) * (s(0, 1) - c) -
           k(0, -1) * (c - s(0, -1));
  }
};

struct Row {
  std::string kernel;
  std::string shape;
  std::string device;
  double compiled_s = 0;
  double torch_s = 0;
  double reference_s = 0;
  double pixels = 0;
  double bytes = 0;
};

void print_row(const Row& r) {
  std::printf("%-13s %-15s %-5s %10.3f %10.3f %10.3f %8.1fx %8.1fx %9.1f %8.2f\n", r.kernel.c_str(),
              r.shape.c_str(), r.device.c_str(), r.compiled_s * 1e3, r.torch_s * 1e3,
              r.reference_s * 1e3, r.torch_s / r.compiled_s, r.reference_s / r.compiled_s,
              r.pixels / r.compiled_s / 1e6, r.bytes / r.compiled_s / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string json_path;
  CLI::App app{"Generated kernels against LibTorch ops and the memory roofline (a benchmark)",
               "kernels_bench"};
  app.add_flag("--quick", quick, "shorter timing budget");
  app.add_option("--json", json_path, "also write the results to this JSON file");
  CLI11_PARSE(app, argc, argv);
  const double budget = quick ? 0.3 : 2.0;
  // LibTorch on every core, like the generated code's OpenMP.
  at::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));

  spdec::lang::Diagnostics diagnostics;
  auto checked = spdec::lang::check_file(
      (std::filesystem::path(SPDEC_SOURCE_DIR) / "library" / "perona_malik.spde").string(), {},
      diagnostics);
  if (!checked) {
    std::fprintf(stderr, "%s", spdec::lang::render_all(diagnostics, {false}).c_str());
    return 1;
  }
  auto process = std::make_shared<const spdec::lang::Process>(*checked);
  auto program = std::make_shared<const spdec::codegen::StencilProgram>(
      spdec::codegen::build_program(*process));

  std::printf("threads: LibTorch %d (OpenMP in the generated code uses the same cores)\n",
              at::get_num_threads());
  std::printf("%-13s %-15s %-5s %10s %10s %10s %9s %9s %9s %8s\n", "kernel", "shape", "dev",
              "ours ms", "torch ms", "ref ms", "vs torch", "vs ref", "Mpix/s", "GB/s");
  std::vector<Row> rows;
  const double t = 0.7;
  const double dt = process->time.dt;
  // library/perona_malik.spde's schedules at t (size 32, T 2), written out;
  // the agreement check below catches any drift between the two.
  TorchPeronaMalik torch_pm;
  torch_pm.alpha1 = 0.5 * std::pow(2.0 * 32 / 0.5, t / 2.0);
  torch_pm.lambda1 = 0.025 * (std::exp(0.5 * 2.0) - 1.0) / (std::exp(0.5 * (2.0 - t)) - 1.0);

  const std::vector<std::vector<std::int64_t>> shapes = {{128, 1, 28, 28}, {128, 3, 64, 64}};
  std::vector<at::Device> devices = {at::kCPU};
  if (at::hasCUDA()) devices.emplace_back(at::kCUDA);  // a GPU build on a GPU machine
  for (const at::Device& device : devices) {
    const auto compiled = spdec::runtime::make_compiled_kernels(process, program, device);
    const auto reference = spdec::runtime::make_reference_kernels(process, program);
    for (const auto& shape : shapes) {
      const at::Tensor u = at::randn(shape, at::TensorOptions().dtype(at::kFloat).device(device));
      const double pixels = static_cast<double>(u.numel());
      const std::string shape_text = std::to_string(shape[0]) + "x" + std::to_string(shape[1]) +
                                     "x" + std::to_string(shape[2]) + "x" +
                                     std::to_string(shape[3]);
      // Agreement before timing: the baselines compute the same drift.
      const at::Tensor b = compiled->drift(u, at::Tensor(), t);
      const double diff = (b - torch_pm.drift(u)).abs().max().item<double>();
      const double scale = b.abs().max().item<double>();
      if (!(diff <= 1e-4 * scale + 1e-6)) {
        std::fprintf(stderr, "the LibTorch baseline disagrees with the kernel: %g (scale %g)\n",
                     diff, scale);
        return 1;
      }

      Row drift{"drift", shape_text, device.str()};
      drift.pixels = pixels;
      drift.bytes = 8 * pixels;
      drift.compiled_s =
          median_seconds([&] { return compiled->drift(u, at::Tensor(), t); }, budget);
      drift.torch_s = median_seconds([&] { return torch_pm.drift(u); }, budget);
      drift.reference_s =
          median_seconds([&] { return reference->drift(u, at::Tensor(), t); }, budget);
      rows.push_back(drift);
      print_row(drift);

      const std::int64_t steps = 10;
      Row flow{"flow_steps10", shape_text, device.str()};
      flow.pixels = pixels * steps;
      flow.bytes = (8 + 8 /* tamed: b written and read again */) * pixels * steps;
      flow.compiled_s = median_seconds(
          [&] { return compiled->flow_steps(u, at::Tensor(), t, dt, steps); }, budget);
      flow.torch_s = median_seconds(
          [&] {
            at::Tensor x = u;
            for (std::int64_t k = 0; k < steps; ++k) {
              const at::Tensor bk = torch_pm.drift(x);
              const at::Tensor norm = bk.flatten(1).norm(2, {1}).view({-1, 1, 1, 1});
              x = x + (dt / (1.0 + dt * norm)) * bk;
            }
            return x;
          },
          budget);
      flow.reference_s = median_seconds(
          [&] { return reference->flow_steps(u, at::Tensor(), t, dt, steps); }, budget);
      rows.push_back(flow);
      print_row(flow);

      Row forward{"forward_step", shape_text, device.str()};
      forward.pixels = pixels;
      forward.bytes = 16 * pixels;
      NoiseSource noise;
      noise.seed = 1;
      forward.compiled_s = median_seconds(
          [&] { return compiled->forward_step(u, at::Tensor(), t, dt, noise); }, budget);
      const double alpha2 = 0.01 * std::pow(200.0, t / 2.0);
      forward.torch_s = median_seconds(
          [&] {
            const at::Tensor bk = torch_pm.drift(u);
            const at::Tensor norm = bk.flatten(1).norm(2, {1}).view({-1, 1, 1, 1});
            return u + (dt / (1.0 + dt * norm)) * bk + alpha2 * std::sqrt(dt) * at::randn_like(u);
          },
          budget);
      forward.reference_s = median_seconds(
          [&] { return reference->forward_step(u, at::Tensor(), t, dt, noise); }, budget);
      rows.push_back(forward);
      print_row(forward);
    }
  }
  std::printf(
      "(vs torch: speed-up over hand-written LibTorch ops; targets on CPU: drift and "
      "flow_steps >= 10x, forward_step >= 5x)\n");

  // Φ_T of perona_malik at 28 px (size = 28: α1 from 0.5 to 56): FED with the
  // default schedule (runtime/kernels/fed_flow.hpp) against the 2000 tamed explicit
  // steps of flow_steps at the process's dt.
  spdec::lang::CheckOptions at_28;
  at_28.overrides.push_back({"size", "28"});
  auto checked_28 = spdec::lang::check_file(
      (std::filesystem::path(SPDEC_SOURCE_DIR) / "library" / "perona_malik.spde").string(), at_28,
      diagnostics);
  if (!checked_28) return 1;
  auto process_28 = std::make_shared<const spdec::lang::Process>(*checked_28);
  auto program_28 = std::make_shared<const spdec::codegen::StencilProgram>(
      spdec::codegen::build_program(*process_28));
  std::printf("\nPhi_T, perona_malik size 28, batch 128x1x28x28\n");
  for (const at::Device& device : devices) {
    const auto compiled = spdec::runtime::make_compiled_kernels(process_28, program_28, device);
    const spdec::runtime::FedSchedule schedule =
        spdec::runtime::FedSchedule::build(*compiled, *process_28);
    const at::Tensor u =
        at::randn({128, 1, 28, 28}, at::TensorOptions().dtype(at::kFloat).device(device));
    const double T = process_28->time.T;
    const auto explicit_steps = static_cast<std::int64_t>(std::llround(T / dt));
    const double fed_s = median_seconds(
        [&] { return spdec::runtime::fed_flow(*compiled, *process_28, u, T, schedule); }, budget);
    const double explicit_s = median_seconds(
        [&] { return compiled->flow_steps(u, at::Tensor(), 0.0, dt, explicit_steps); }, budget);
    std::printf(
        "%-5s fed (%zu cycles, %lld steps) %9.3f ms   explicit (%lld steps) %9.3f ms   %6.1fx\n",
        device.str().c_str(), schedule.cycles.size(),
        static_cast<long long>(schedule.total_steps()), fed_s * 1e3,
        static_cast<long long>(explicit_steps), explicit_s * 1e3, explicit_s / fed_s);
    // The training batch: one t per sample (uniform on [t0, T]), one sweep
    // with per-sample branches (fed_flow_batch) against the explicit sweep
    // of DecoupledModel::perturb (flow_steps on the shrinking sorted batch).
    std::vector<double> times(128);
    for (std::size_t i = 0; i < times.size(); ++i) {
      times[i] = process_28->time.t0 +
                 (T - process_28->time.t0) * static_cast<double>(i) / (times.size() - 1.0);
    }
    const double fed_batch_s = median_seconds(
        [&] { return spdec::runtime::fed_flow_batch(*compiled, *process_28, u, times, schedule); },
        budget);
    const double explicit_batch_s = median_seconds(
        [&] {
          at::Tensor x = u;
          std::int64_t done = 0;
          for (std::size_t j = 0; j < times.size(); ++j) {
            const auto steps = static_cast<std::int64_t>(times[j] / dt);
            if (steps > done)
              x = compiled->flow_steps(x, at::Tensor(), done * dt, dt, steps - done);
            done = std::max(done, steps);
            if (j + 1 < times.size()) x = x.narrow(0, 1, x.size(0) - 1).contiguous();
          }
          return x;
        },
        budget);
    std::printf("%-5s per-sample t: fed_flow_batch %9.3f ms   explicit sweep %9.3f ms   %6.1fx\n",
                device.str().c_str(), fed_batch_s * 1e3, explicit_batch_s * 1e3,
                explicit_batch_s / fed_batch_s);
    Row fed{"phi_T_fed", "128x1x28x28", device.str()};
    fed.compiled_s = fed_s;
    fed.torch_s = explicit_s;  // the baseline: explicit flow_steps
    fed.reference_s = explicit_s;
    rows.push_back(fed);
  }
  if (!json_path.empty()) {
    nlohmann::json out = nlohmann::json::array();
    for (const Row& r : rows) {
      out.push_back({{"kernel", r.kernel},
                     {"shape", r.shape},
                     {"device", r.device},
                     {"compiled_s", r.compiled_s},
                     {"torch_s", r.torch_s},
                     {"reference_s", r.reference_s},
                     {"speedup_vs_torch", r.torch_s / r.compiled_s},
                     {"speedup_vs_reference", r.reference_s / r.compiled_s},
                     {"pixels_per_s", r.pixels / r.compiled_s},
                     {"effective_GBps", r.bytes / r.compiled_s / 1e9}});
    }
    std::ofstream(json_path) << out.dump(2) << "\n";
  }
  return 0;
}
