#include "runtime/run/edit_run.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "runtime/base/atomic_write.hpp"
#include "runtime/base/npy.hpp"
#include "runtime/base/progress.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/data/image_folder.hpp"
#include "runtime/data/image_grid.hpp"
#include "runtime/data/strokes.hpp"
#include "runtime/run/run_setup.hpp"
#include "runtime/run/trained_run.hpp"
#include "runtime/sampling/generate.hpp"

namespace spdec::runtime {
namespace {

StrokeOptions stroke_options(const config::RunConfig& config, std::int64_t side) {
  StrokeOptions options;
  options.width =
      config.edit.stroke_width > 0 ? config.edit.stroke_width : default_stroke_width(side);
  options.levels = config.edit.stroke_levels;
  options.range = config.data.range;
  return options;
}

/// The guides, float32 [N, C, H, W] in the data range at the checkpoint's
/// shape: the files (strokes only when edit.strokes), or stroke paintings
/// of the first edit.images images of the split training did not see.
at::Tensor guide_images(const config::RunConfig& config, const std::vector<std::string>& files,
                        const std::vector<std::int64_t>& shape, std::ostream& log) {
  const StrokeOptions strokes = stroke_options(config, shape[1]);
  if (!files.empty()) {
    std::vector<at::Tensor> images;
    std::vector<std::filesystem::path> paths;
    for (const std::string& file : files) {
      images.push_back(read_image(file, static_cast<int>(shape[0])));
      paths.emplace_back(file);
    }
    const at::Tensor bytes = resize_or_pad(stack_images(images, paths), shape[1], shape[2]);
    const at::Tensor guides = to_float(bytes, config.data.range);
    return config.edit.strokes ? stroke_painting(guides, strokes) : guides;
  }
  config::DataSection data = config.data;
  if (config::has_splits(data.dataset)) data.split = config::other_split(data.split);
  data.flip = false;
  const Dataset set = load_run_dataset(dataset_spec(data, config.edit.images), log, "edit");
  log << fmt::format("edit: {} {} images made stroke paintings (median width {}, {} levels)",
                     set.size(), config::has_splits(data.dataset) ? name(data.split) : "data",
                     strokes.width, strokes.levels)
      << std::endl;
  return stroke_painting(set.to_float(config.data.range), strokes);
}

/// The time an edit of `strength` starts at, for this run's process.
double start_time(const TrainedRun& run, double strength) {
  if (run.objective.kind == ObjectiveKind::flow_matching) return strength;
  const double t0 = run.model->start_time();
  return t0 + strength * (run.model->end_time() - t0);
}

/// RMS distance per edit, after the stroke simulator's median filter, to
/// its guide (edit i to guide i mod N): how much of the guide survives.
double faithfulness(const at::Tensor& edits, const at::Tensor& guides, int width) {
  const std::int64_t n = guides.size(0);
  const at::Tensor index = at::arange(edits.size(0), at::kLong).remainder(n);
  const at::Tensor diff = median_filter(edits, width) - guides.index_select(0, index);
  return diff.square().flatten(1).mean(1).sqrt().mean().item<double>();
}

}  // namespace

EditRunFiles run_edit(const config::RunConfig& config, const lang::Process& process,
                      const std::vector<std::string>& inputs, std::ostream& log) {
  apply_thread_count(config);
  const at::Device device = choose_device(config.run.device);
  TrainedRun run = open_trained_run(config, process, device);
  const std::vector<std::int64_t> shape = image_shape(run);
  const at::Tensor guides = guide_images(config, inputs, shape, log);
  const std::int64_t n = guides.size(0);
  const int width = stroke_options(config, shape[1]).width;

  GenerateRequest base = generate_request(config);
  // In a latent run the guides' codes start the edits, which are decoded.
  base.edit_inputs = to_model_space(run, guides.to(device));
  const ResolvedSampler sampler = resolve_sampler(base, *run.model, run.head);
  base.chosen_grid = sampler.time_grid;
  log << "edit: " << n << " guides, sampler "
      << (run.objective.kind == ObjectiveKind::flow_matching ? "flow ODE" : sampler.name)
      << ", sample.steps " << base.steps << " for the whole time range (an edit of strength s "
      << "takes about s of them)" << std::endl;

  // Strength -> edits; the sweep's first, then the seeds at edit.strength.
  std::vector<double> strengths = config.edit.sweep;
  strengths.push_back(config.edit.strength);
  nlohmann::json report = {
      {"guides", n}, {"stroke_width", width}, {"strengths", nlohmann::json::array()}};
  std::vector<at::Tensor> columns;  // per strength of the sweep: [N, ...]
  at::Tensor seeded;                // [N·seeds, ...] at edit.strength
  for (std::size_t k = 0; k < strengths.size(); ++k) {
    const bool seeds_pass = k + 1 == strengths.size();
    GenerateRequest request = base;
    request.edit_time = start_time(run, strengths[k]);
    request.steps = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(std::ceil(strengths[k] * static_cast<double>(base.steps))));
    request.n = seeds_pass ? n * config.edit.seeds : n;
    const at::Tensor edits =
        clamp_to_range(
            to_image_space(run, generate(*run.model, run.net, run.head, run.prior, request)),
            config.data.range)
            .to(at::kCPU);
    const double faithful = faithfulness(edits, guides, width);
    log << fmt::format(
               "edit: strength {:.3g} (t = {:.4g}, {} steps): {} edits, faithfulness "
               "(RMS to the guide after the median filter) {:.4f}",
               strengths[k], request.edit_time, request.steps, edits.size(0), faithful)
        << std::endl;
    report["strengths"].push_back({{"strength", strengths[k]},
                                   {"time", request.edit_time},
                                   {"steps", request.steps},
                                   {"edits", edits.size(0)},
                                   {"faithfulness_rms", faithful},
                                   {"non_finite", non_finite_images(edits)}});
    if (seeds_pass) {
      seeded = edits;
    } else {
      columns.push_back(edits);
    }
  }

  // The grid: per guide, the guide | the sweep | the seeds.
  std::vector<at::Tensor> rows;
  std::vector<std::string> labels = {"guide"};
  for (const double s : config.edit.sweep) labels.push_back(fmt::format("{:.2g}", s));
  for (int j = 0; j < config.edit.seeds; ++j)
    labels.push_back(fmt::format("s{}", j));  // the 5x7 font has no #
  for (std::int64_t i = 0; i < n; ++i) {
    rows.push_back(guides[i].unsqueeze(0));
    for (const at::Tensor& column : columns) rows.push_back(column[i].unsqueeze(0));
    for (int j = 0; j < config.edit.seeds; ++j) rows.push_back(seeded[j * n + i].unsqueeze(0));
  }
  std::filesystem::create_directories(config.run.dir);
  const EditRunFiles files{config::run_path(config, config.edit.output + ".png"),
                           config::run_path(config, config.edit.output + ".npy"),
                           config::run_path(config, config.edit.output + ".json")};
  std::filesystem::create_directories(files.npy.parent_path());
  GridOptions grid;
  grid.cols = static_cast<std::int64_t>(labels.size());
  grid.col_labels = labels;
  grid.range = config.data.range;
  save_image_grid(files.png, at::cat(rows, 0), grid);
  write_npy(files.npy, seeded.contiguous());
  write_file_atomically(files.json, report.dump(2) + "\n");
  log << "wrote " << files.png.string() << ", " << files.npy.string() << " and "
      << files.json.string() << " (columns: the guide, strengths "
      << fmt::format("{}", fmt::join(config.edit.sweep, ", ")) << ", then " << config.edit.seeds
      << " seeds at strength " << config.edit.strength << ")" << std::endl;
  return files;
}

}  // namespace spdec::runtime
