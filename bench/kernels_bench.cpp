// Benchmark (not a test): the generated kernels of library/perona_malik.spde
// against the same work written with LibTorch tensor ops, on the CPU (and the
// GPU when one is present).
//
//   build/bench/kernels_bench [--quick] [--kernels-only] [--json FILE]
//
// For drift, flow_steps (10 noise-free steps) and forward_step (tamed EM with
// fresh noise) at batch 128 x 1 x 28 x 28 and 128 x 3 x 64 x 64 it prints,
// per cell, the median of interleaved repetitions (every repetition runs each
// contender once, in turn) of: ours (the generated kernel), torch (the same
// step written with LibTorch ops), hand (the same step written by hand in
// C++ with OpenMP, bench/hand_perona_malik.hpp; CPU only), ref (the
// reference evaluator: the IR interpreted op by op) and a copy of the state
// (the bandwidth roofline). Then the speed-ups over each, pixels/s, and the
// fraction of the copy roofline: the copy time of the state copies the
// kernel must at least move (1 per step: read u, write the result) over
// ours. Every baseline is checked against the generated result before
// timing (the hand-written one on every kernel, with the same noise stream).
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

#include "bench/hand_perona_malik.hpp"
#include "codegen/pipeline.hpp"
#include "lang/check.hpp"
#include "runtime/kernels/fed_flow.hpp"
#include "runtime/kernels/process_kernels.hpp"

namespace {

using spdec::runtime::NoiseSource;
using spdec::runtime::ProcessKernels;

/// Waits for a CUDA result by reading one element (a 4-byte copy: LibTorch
/// 1.x has no device-synchronise without its CUDA headers).
void finish(const at::Tensor& out) {
  if (out.defined() && out.is_cuda()) (void)out.flatten()[0].item<float>();
}

/// The median time of each of `work`, measured in interleaved repetitions
/// (every repetition runs each once, in turn), so that a slow phase of the
/// machine (another job, frequency) hits every column alike. At least 5
/// repetitions, then more while the budget lasts (at most 200).
std::vector<double> interleaved_medians(const std::vector<std::function<at::Tensor()>>& work,
                                        double budget_seconds) {
  for (const auto& run : work) finish(run());  // warm-up: JIT'd code paged in, caches, allocator
  std::vector<std::vector<double>> times(work.size());
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  while (times[0].size() < 5 || (elapsed() < budget_seconds && times[0].size() < 200)) {
    for (std::size_t i = 0; i < work.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      finish(work[i]());
      times[i].push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  std::vector<double> medians;
  for (std::vector<double>& column : times) {
    std::sort(column.begin(), column.end());
    medians.push_back(column[column.size() / 2]);
  }
  return medians;
}

/// The median of one piece of work alone.
double median_seconds(const std::function<at::Tensor()>& work, double budget_seconds) {
  return interleaved_medians({work}, budget_seconds)[0];
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

/// perona_malik's time-stage values at t (size 32, T 2), written out; the
/// agreement checks below catch any drift from library/perona_malik.spde.
struct Schedules {
  double alpha1 = 0;
  double lambda1 = 0;
  double alpha2 = 0;

  static Schedules at_time(double t) {
    Schedules s;
    s.alpha1 = 0.5 * std::pow(2.0 * 32 / 0.5, t / 2.0);
    s.lambda1 = 0.025 * (std::exp(0.5 * 2.0) - 1.0) / (std::exp(0.5 * (2.0 - t)) - 1.0);
    s.alpha2 = 0.01 * std::pow(200.0, t / 2.0);
    return s;
  }
  [[nodiscard]] TorchPeronaMalik torch() const { return {alpha1, lambda1}; }
  [[nodiscard]] spdec::bench::PeronaMalikCoefficients hand() const {
    return {static_cast<float>(alpha1), static_cast<float>(lambda1), static_cast<float>(alpha2)};
  }
};

/// One cell of the table: the medians of each contender (NaN: not run).
struct Row {
  std::string kernel;
  std::string shape;
  std::string device;
  double compiled_s = 0;
  double torch_s = 0;
  double hand_s = std::nan("");
  double reference_s = 0;
  double copy_s = 0;  ///< one copy of the state (the roofline's unit)
  double copies = 1;  ///< state copies the kernel must at least move (steps for flow_steps)
  double pixels = 0;

  /// Time the copy roofline allows over the kernel's time.
  [[nodiscard]] double roofline_fraction() const { return copies * copy_s / compiled_s; }
};

void print_header() {
  std::printf("%-13s %-15s %-4s %9s %9s %9s %9s %8s %8s %8s %8s %8s\n", "kernel", "shape", "dev",
              "ours ms", "torch ms", "hand ms", "ref ms", "vs torch", "vs hand", "vs ref", "Mpix/s",
              "roofline");
}

void print_row(const Row& r) {
  std::printf("%-13s %-15s %-4s %9.3f %9.3f %9.3f %9.3f %7.1fx %7.2fx %7.1fx %8.1f %7.1f%%\n",
              r.kernel.c_str(), r.shape.c_str(), r.device.c_str(), r.compiled_s * 1e3,
              r.torch_s * 1e3, r.hand_s * 1e3, r.reference_s * 1e3, r.torch_s / r.compiled_s,
              r.hand_s / r.compiled_s, r.reference_s / r.compiled_s, r.pixels / r.compiled_s / 1e6,
              100.0 * r.roofline_fraction());
}

/// Fails (exit 1) when `got` is not `want` to 1e-4 of want's scale.
void require_agreement(const at::Tensor& got, const at::Tensor& want, const char* what) {
  const double diff = (got - want).abs().max().item<double>();
  const double scale = want.abs().max().item<double>();
  if (!(diff <= 1e-4 * scale + 1e-6)) {
    std::fprintf(stderr, "%s disagrees with the generated kernel: %g (scale %g)\n", what, diff,
                 scale);
    std::exit(1);
  }
}

spdec::bench::Shape shape_of(const at::Tensor& u) {
  return {u.size(0), u.size(1), u.size(2), u.size(3)};
}

/// Everything one shape on one device needs: the state, the kernels, the
/// baselines, and the budget.
struct Cell {
  ProcessKernels& compiled;
  ProcessKernels& reference;
  at::Tensor u;
  double t = 0;
  double dt = 0;
  double budget = 0;
  std::string shape_text;

  [[nodiscard]] bool on_cpu() const { return !u.is_cuda(); }

  /// The copy kernel on the CPU; LibTorch's copy on a GPU.
  [[nodiscard]] std::function<at::Tensor()> copy() const {
    return [this, out = at::empty_like(u)]() mutable {
      if (on_cpu()) {
        spdec::bench::copy_kernel(u.data_ptr<float>(), out.data_ptr<float>(), u.numel());
      } else {
        out.copy_(u);
      }
      return out;
    };
  }

  /// Times ours, torch, hand (CPU only), reference and the copy, interleaved.
  Row measure(Row row, const std::function<at::Tensor()>& ours,
              const std::function<at::Tensor()>& torch, const std::function<at::Tensor()>& hand,
              const std::function<at::Tensor()>& ref) const {
    std::vector<std::function<at::Tensor()>> work = {ours, torch, ref, copy()};
    if (on_cpu()) work.push_back(hand);
    const std::vector<double> m = interleaved_medians(work, budget);
    row.device = on_cpu() ? "cpu" : "cuda";
    row.shape = shape_text;
    row.compiled_s = m[0];
    row.torch_s = m[1];
    row.reference_s = m[2];
    row.copy_s = m[3];
    if (on_cpu()) row.hand_s = m[4];
    return row;
  }
};

Row drift_row(const Cell& cell) {
  const TorchPeronaMalik torch_pm = Schedules::at_time(cell.t).torch();
  const auto hand_k = Schedules::at_time(cell.t).hand();
  const at::Tensor& u = cell.u;
  auto hand = [&, out = at::empty_like(u)]() mutable {
    spdec::bench::hand_drift(hand_k, u.data_ptr<float>(), out.data_ptr<float>(), shape_of(u));
    return out;
  };
  const at::Tensor b = cell.compiled.drift(u, at::Tensor(), cell.t);
  require_agreement(torch_pm.drift(u), b, "the LibTorch drift");
  // The same operations in the same order: the same bits, or the baseline is not the same drift.
  if (cell.on_cpu() && !at::equal(hand(), b)) {
    std::fprintf(stderr, "the hand-written drift is not bit-identical to the generated one\n");
    std::exit(1);
  }
  Row row;
  row.kernel = "drift";
  row.pixels = static_cast<double>(u.numel());
  return cell.measure(
      row, [&] { return cell.compiled.drift(u, at::Tensor(), cell.t); },
      [&] { return torch_pm.drift(u); }, hand,
      [&] { return cell.reference.drift(u, at::Tensor(), cell.t); });
}

Row flow_row(const Cell& cell, std::int64_t steps) {
  const at::Tensor& u = cell.u;
  std::vector<spdec::bench::PeronaMalikCoefficients> hand_k;
  for (std::int64_t k = 0; k < steps; ++k) {
    hand_k.push_back(Schedules::at_time(cell.t + static_cast<double>(k) * cell.dt).hand());
  }
  auto hand = [&, out = at::empty_like(u),
               scratch = at::empty({2 * u.numel()}, u.options())]() mutable {
    spdec::bench::hand_flow_steps(hand_k, static_cast<float>(cell.dt), u.data_ptr<float>(),
                                  out.data_ptr<float>(), scratch.data_ptr<float>(), shape_of(u));
    return out;
  };
  const auto ours = [&] {
    return cell.compiled.flow_steps(u, at::Tensor(), cell.t, cell.dt, steps);
  };
  if (cell.on_cpu()) require_agreement(hand(), ours(), "the hand-written flow_steps");
  const TorchPeronaMalik torch_pm = Schedules::at_time(cell.t).torch();
  const auto torch = [&] {
    at::Tensor x = u;
    for (std::int64_t k = 0; k < steps; ++k) {
      const at::Tensor bk = torch_pm.drift(x);
      const at::Tensor norm = bk.flatten(1).norm(2, {1}).view({-1, 1, 1, 1});
      x = x + (cell.dt / (1.0 + cell.dt * norm)) * bk;
    }
    return x;
  };
  Row row;
  row.kernel = "flow_steps" + std::to_string(steps);
  row.pixels = static_cast<double>(u.numel() * steps);
  row.copies = static_cast<double>(steps);
  return cell.measure(row, ours, torch, hand, [&] {
    return cell.reference.flow_steps(u, at::Tensor(), cell.t, cell.dt, steps);
  });
}

Row forward_row(const Cell& cell) {
  const at::Tensor& u = cell.u;
  NoiseSource noise;
  noise.seed = 1;
  const Schedules schedules = Schedules::at_time(cell.t);
  auto hand = [&, out = at::empty_like(u), scratch = at::empty_like(u)]() mutable {
    spdec::bench::hand_forward_step(schedules.hand(), static_cast<float>(cell.dt), noise.seed,
                                    u.data_ptr<float>(), out.data_ptr<float>(),
                                    scratch.data_ptr<float>(), shape_of(u));
    return out;
  };
  const auto ours = [&] {
    return cell.compiled.forward_step(u, at::Tensor(), cell.t, cell.dt, noise);
  };
  if (cell.on_cpu()) require_agreement(hand(), ours(), "the hand-written forward_step");
  const TorchPeronaMalik torch_pm = schedules.torch();
  const auto torch = [&] {
    const at::Tensor bk = torch_pm.drift(u);
    const at::Tensor norm = bk.flatten(1).norm(2, {1}).view({-1, 1, 1, 1});
    return u + (cell.dt / (1.0 + cell.dt * norm)) * bk +
           schedules.alpha2 * std::sqrt(cell.dt) * at::randn_like(u);
  };
  Row row;
  row.kernel = "forward_step";
  row.pixels = static_cast<double>(u.numel());
  return cell.measure(row, ours, torch, hand, [&] {
    return cell.reference.forward_step(u, at::Tensor(), cell.t, cell.dt, noise);
  });
}

/// The rows as JSON to `path` (nothing when empty).
void write_json(const std::string& path, const std::vector<Row>& rows) {
  if (path.empty()) return;
  nlohmann::json out = nlohmann::json::array();
  for (const Row& r : rows) {
    out.push_back({{"kernel", r.kernel},
                   {"shape", r.shape},
                   {"device", r.device},
                   {"compiled_s", r.compiled_s},
                   {"torch_s", r.torch_s},
                   {"hand_s", std::isnan(r.hand_s) ? nlohmann::json() : nlohmann::json(r.hand_s)},
                   {"reference_s", r.reference_s},
                   {"copy_s", r.copy_s},
                   {"speedup_vs_torch", r.torch_s / r.compiled_s},
                   {"speedup_vs_hand", r.hand_s / r.compiled_s},
                   {"speedup_vs_reference", r.reference_s / r.compiled_s},
                   {"pixels_per_s", r.pixels / r.compiled_s},
                   {"roofline_fraction", r.roofline_fraction()}});
  }
  std::ofstream(path) << out.dump(2) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string json_path;
  CLI::App app{"Generated kernels against LibTorch ops and the memory roofline (a benchmark)",
               "kernels_bench"};
  app.add_flag("--quick", quick, "shorter timing budget");
  bool kernels_only = false;
  app.add_flag("--kernels-only", kernels_only, "the kernel table only (no Phi_T comparison)");
  app.add_option("--json", json_path, "also write the results to this JSON file");
  std::string device_choice = "all";
  app.add_option("--device", device_choice,
                 "cpu, cuda, or all (the CPU, and CUDA when this build and machine have it)")
      ->check(CLI::IsMember({"cpu", "cuda", "all"}));
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each row as soon as it is measured
  std::vector<at::Device> devices;
  if (device_choice != "cuda") devices.emplace_back(at::kCPU);
  if (device_choice != "cpu" && at::hasCUDA()) devices.emplace_back(at::kCUDA);
  if (devices.empty()) {
    std::fprintf(stderr, "kernels_bench: --device cuda, but this build or machine has no CUDA\n");
    return 1;
  }
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
  print_header();
  std::vector<Row> rows;
  const double t = 0.7;
  const double dt = process->time.dt;
  for (const at::Device& device : devices) {
    const auto compiled = spdec::runtime::make_compiled_kernels(process, program, device);
    const auto reference = spdec::runtime::make_reference_kernels(process, program);
    // On a GPU also the larger batch the GPU targets are stated at.
    std::vector<std::vector<std::int64_t>> shapes = {{128, 1, 28, 28}, {128, 3, 64, 64}};
    if (device.is_cuda()) shapes.push_back({256, 3, 64, 64});
    for (const auto& shape : shapes) {
      const Cell cell{*compiled,
                      *reference,
                      at::randn(shape, at::TensorOptions().dtype(at::kFloat).device(device)),
                      t,
                      dt,
                      budget,
                      std::to_string(shape[0]) + "x" + std::to_string(shape[1]) + "x" +
                          std::to_string(shape[2]) + "x" + std::to_string(shape[3])};
      for (const Row& row : {drift_row(cell), flow_row(cell, 10), forward_row(cell)}) {
        rows.push_back(row);
        print_row(row);
      }
    }
  }
  std::printf(
      "(medians of interleaved repetitions; vs torch / vs hand / vs ref: speed-up over LibTorch "
      "ops, the hand-written C++ step, the reference evaluator; roofline: the copy kernel's time "
      "for the state copies the kernel must move, over ours)\n");

  if (kernels_only) {
    write_json(json_path, rows);
    return 0;
  }
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
  write_json(json_path, rows);
  return 0;
}
