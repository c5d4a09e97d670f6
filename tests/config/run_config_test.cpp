// Run configurations: defaults, precedence, overrides, every error kind with
// its location, resolved round trips, path resolution, the shipped specs.
#include "runtime/config/run_config.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "lang/diagnostics.hpp"

namespace fs = std::filesystem;
namespace cfg = spdec::config;
using spdec::config::LoadOptions;
using spdec::config::RunConfig;

namespace Catch {
template <>
struct StringMaker<spdec::config::KeyDifference> {
  static std::string convert(const spdec::config::KeyDifference& d) {
    return d.key + ": " + d.first + " | " + d.second;
  }
};
}  // namespace Catch

namespace {

fs::path source_dir() { return SPDEC_SOURCE_DIR; }

struct Loaded {
  std::optional<RunConfig> config;
  spdec::lang::Diagnostics diagnostics;
  [[nodiscard]] std::string rendered() const { return spdec::lang::render_all(diagnostics); }
  /// The first diagnostic, for exact checks.
  [[nodiscard]] const spdec::lang::Diagnostic& first() const {
    REQUIRE_FALSE(diagnostics.all().empty());
    return diagnostics.all().front();
  }
};

/// Parses `text` as if it were specs/run.toml (so `process.file` finds the library).
Loaded load(const std::string& text, const std::vector<std::string>& overrides = {},
            const LoadOptions& options = {}) {
  Loaded loaded;
  loaded.config = spdec::config::parse_run_config(text, "run.toml", source_dir() / "specs",
                                                  overrides, loaded.diagnostics, options);
  return loaded;
}

const std::string kHeat = "[process]\nfile = \"heat.spde\"\n";

/// A fresh empty directory under the system's temporary directory.
fs::path temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("spdec_config_test_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void check_error(const Loaded& loaded, const std::string& code, std::size_t line,
                 std::size_t column, const std::string& message, const std::string& hint = {}) {
  INFO(loaded.rendered());
  REQUIRE_FALSE(loaded.config);
  const auto& d = loaded.first();
  CHECK(d.code == code);
  CHECK(d.start().line == line);
  CHECK(d.start().column == column);
  CHECK(d.message == message);
  if (!hint.empty()) CHECK(d.hint == hint);
}

}  // namespace

TEST_CASE("defaults fill every key the file leaves out", "[config]") {
  const Loaded loaded = load(kHeat);
  INFO(loaded.rendered());
  REQUIRE(loaded.config);
  const RunConfig& c = *loaded.config;
  CHECK(c.run.name == "run");
  CHECK(c.run.dir == (fs::current_path() / "runs" / "run").lexically_normal().string());
  CHECK(c.process.file == (source_dir() / "library" / "heat.spde").lexically_normal().string());
  CHECK(c.process.semantics == cfg::SemanticsChoice::declared);
  CHECK(c.process.backend == cfg::Backend::automatic);
  // heat.spde declares `size`: it follows data.size.
  CHECK(c.process.params == std::map<std::string, double>{{"size", 32.0}});
  CHECK(c.data.dataset == cfg::Dataset::fashion_mnist);
  CHECK(c.data.path == "/usr/share/datasets/fashion-mnist");
  CHECK(c.data.size == 32);
  CHECK(c.data.range == cfg::ValueRange::minus_one_one);
  CHECK_FALSE(c.train.objective.has_value());  // auto: the training plan decides
  CHECK(c.train.steps == 100000);
  CHECK(c.train.lr == 2e-4);
  CHECK(c.train.warmup == 5000);
  CHECK(c.train.grad_clip == 1.0);
  CHECK(c.train.ema == 0.9999);
  CHECK(c.sample.sampler == cfg::Sampler::automatic);
  CHECK(c.sample.eta == 1.0);
  CHECK(c.sample.order == 2);
  CHECK_FALSE(c.model.parameterisation.has_value());
  CHECK(c.sample.snr == 0.16);
  CHECK_FALSE(c.sample.label);
  CHECK(c.model.channel_mult == std::vector<int>{1, 2, 2});
  CHECK(c.eval.metrics ==
        std::vector<cfg::Metric>{cfg::Metric::fid, cfg::Metric::kid, cfg::Metric::is});
}

TEST_CASE("command-line overrides win over the file, the file over defaults", "[config]") {
  const std::string text = kHeat +
                           "[train]\nsteps = 500\nbatch_size = 16\n"
                           "[data]\nsize = 16\n";
  const Loaded loaded = load(text, {"train.steps=100", "train.steps=200", "run.dir=/tmp/x"});
  INFO(loaded.rendered());
  REQUIRE(loaded.config);
  CHECK(loaded.config->train.steps == 200);      // the last override
  CHECK(loaded.config->train.batch_size == 16);  // the file
  CHECK(loaded.config->train.lr == 2e-4);        // the default
  CHECK(loaded.config->run.dir == "/tmp/x");
  CHECK(loaded.config->process.params.at("size") == 16.0);  // follows data.size
}

TEST_CASE("overrides are TOML values, or strings when they are not TOML", "[config]") {
  const Loaded loaded = load(
      "[process]\nfile = \"perona_malik.spde\"\n",
      {"train.lr=2e-4", "train.grad_clip=0", "data.flip=false", "data.flip = true",
       "sample.sampler=\"ode\"", "sample.integrator=euler", "run.dir=relative/dir", "run.name=123",
       "process.params.lambda_min=0.05", "process.params.k=1", "forward.times=[0, 0.5, 2]",
       "model.channel_mult=[1,2]", "eval.feature_extractor=/opt/inception.pt"});
  INFO(loaded.rendered());
  REQUIRE(loaded.config);
  const RunConfig& c = *loaded.config;
  CHECK(c.train.lr == 2e-4);
  CHECK(c.train.grad_clip == 0.0);
  CHECK(c.data.flip);
  CHECK(c.sample.sampler == cfg::Sampler::ode);
  CHECK(c.sample.integrator == cfg::Integrator::euler);
  CHECK(c.run.dir == (fs::current_path() / "relative/dir").lexically_normal().string());
  CHECK(c.run.name == "123");
  CHECK(c.process.params.at("lambda_min") == 0.05);
  CHECK(c.process.params.at("k") == 1.0);
  CHECK(c.process.params.at("size") == 32.0);
  CHECK(c.forward.time_list == std::vector<double>{0, 0.5, 2});
  CHECK(c.model.channel_mult == std::vector<int>{1, 2});
  CHECK(c.eval.feature_extractor == "/opt/inception.pt");
}

TEST_CASE("unknown sections and keys name their place and the likely key", "[config]") {
  SECTION("a misspelt section") {
    check_error(load(kHeat + "[trian]\nsteps = 5\n"), "C002", 3, 2, "unknown section `trian`",
                "did you mean `train`?");
  }
  SECTION("a misspelt key") {
    check_error(load(kHeat + "[train]\nsteps = 5\n  stpes = 5\n"), "C002", 5, 3,
                "unknown key `train.stpes`", "did you mean `train.steps`?");
  }
  SECTION("a dotted key at the top level") {
    check_error(load("trian.steps = 5\n" + kHeat), "C002", 1, 1, "unknown section `trian`",
                "did you mean `train`?");
  }
  SECTION("a key nothing resembles lists the section's keys") {
    const Loaded loaded = load(kHeat + "[eval]\nzzzzzzzz = 1\n");
    check_error(loaded, "C002", 4, 1, "unknown key `eval.zzzzzzzz`");
    CHECK(loaded.first().hint.find("valid keys in [eval]: batch_size") != std::string::npos);
  }
  SECTION("an override's typo points into the command line") {
    const Loaded loaded = load(kHeat, {"trian.steps=100"});
    check_error(loaded, "C002", 1, 1, "unknown section `trian`", "did you mean `train`?");
    CHECK(loaded.first().file->path() == "<command line>");
    CHECK(loaded.rendered().find("<command line>:1:1: error[C002]") != std::string::npos);
  }
  SECTION("an override of an unknown key in a known section") {
    check_error(load(kHeat, {"sample.stesp=3"}), "C002", 1, 8, "unknown key `sample.stesp`",
                "did you mean `sample.steps`?");
  }
  SECTION("every unknown key is reported, not only the first") {
    const Loaded loaded =
        load(kHeat + "[train]\nstpes = 1\nlr = \"x\"\nlrr = 1\n", {"sample.n=0", "x.y=1"});
    REQUIRE(loaded.diagnostics.error_count() == 5);
    // In reading order: the file top to bottom, then the overrides.
    const auto& all = loaded.diagnostics.all();
    CHECK(all[0].message == "unknown key `train.stpes`");
    CHECK(all[1].message == "`train.lr` must be a number, got a string");
    CHECK(all[2].message == "unknown key `train.lrr`");
    CHECK(all[3].message == "`sample.n` must be positive, got 0");
    CHECK(all[4].message == "unknown section `x`");
  }
}

TEST_CASE("the rendering is the language's: location, source line, caret, hint", "[config]") {
  const Loaded loaded = load(kHeat + "[train]\nstpes = 5\n");
  const std::string text = loaded.rendered();
  INFO(text);
  CHECK(text.find("run.toml:4:1: error[C002]: unknown key `train.stpes`") != std::string::npos);
  CHECK(text.find("stpes = 5") != std::string::npos);
  CHECK(text.find("| ^~~~~") != std::string::npos);
  CHECK(text.find("did you mean `train.steps`?") != std::string::npos);
}

TEST_CASE("wrong types say what was expected and what was given", "[config]") {
  SECTION("a string for an integer") {
    check_error(load(kHeat + "[train]\nsteps = \"many\"\n"), "C003", 4, 9,
                "`train.steps` must be an integer, got a string");
  }
  SECTION("a float for an integer") {
    check_error(load(kHeat + "[train]\nsteps = 1.5\n"), "C003", 4, 9,
                "`train.steps` must be an integer, got a floating-point number");
  }
  SECTION("an integer for a boolean") {
    check_error(load(kHeat + "[data]\nflip = 1\n"), "C003", 4, 8,
                "`data.flip` must be a boolean (true or false), got an integer");
  }
  SECTION("an override that is not an integer") {
    check_error(load(kHeat, {"train.steps=lots"}), "C003", 1, 13,
                "`train.steps` must be an integer, got a string");
  }
  SECTION("a section that is a value") {
    check_error(load("train = 5\n" + kHeat), "C003", 1, 9,
                "`train` must be a table, got an integer");
  }
  SECTION("an array element of the wrong type") {
    check_error(load(kHeat + "[model]\nchannel_mult = [1, \"2\"]\n"), "C003", 4, 20,
                "`model.channel_mult` must be an array of positive integers, this element is a "
                "string");
  }
  SECTION("a param that is not a number") {
    check_error(load(kHeat + "[process.params]\nT = \"two\"\n"), "C003", 4, 5,
                "`process.params.T` must be a number, got a string");
  }
}

TEST_CASE("values out of range or not among the choices", "[config]") {
  SECTION("steps <= 0") {
    check_error(load(kHeat + "[train]\nsteps = 0\n"), "C004", 4, 9,
                "`train.steps` must be positive and at most 2^43 - 1 (8796093022207), got 0");
  }
  SECTION("absurd step counts: the noise streams k * 2^20 + row must fit in 64 bits") {
    check_error(load(kHeat + "[train]\nsteps = 9223372036854775807\n"), "C004", 4, 9,
                "`train.steps` must be positive and at most 2^43 - 1 (8796093022207), got "
                "9223372036854775807");
    const Loaded largest = load(kHeat + "[train]\nsteps = 8796093022207\n");
    REQUIRE(largest.config);
    CHECK(largest.config->train.steps == 8796093022207);
  }
  SECTION("lr <= 0") {
    check_error(load(kHeat + "[train]\nlr = -1e-4\n"), "C004", 4, 6,
                "`train.lr` must be positive, got -0.0001");
    check_error(load(kHeat, {"train.lr=0"}), "C004", 1, 10, "`train.lr` must be positive, got 0");
  }
  SECTION("not finite") {
    check_error(load(kHeat + "[train]\ngrad_clip = inf\n"), "C004", 4, 13,
                "`train.grad_clip` must be a finite number, got inf");
  }
  SECTION("snr < 0") {
    check_error(load(kHeat + "[sample]\nsnr = -0.1\n"), "C004", 4, 7,
                "`sample.snr` must be 0 or more, got -0.1");
  }
  SECTION("ema outside [0, 1)") {
    check_error(load(kHeat + "[train]\nema = 1\n"), "C004", 4, 7,
                "`train.ema` must be in [0, 1), got 1");
  }
  SECTION("an unknown sampler lists the valid ones") {
    check_error(
        load(kHeat + "[sample]\nsampler = \"pcc\"\n"), "C004", 4, 11,
        R"(`sample.sampler` must be one of "auto", "pc", "ode", "ancestral", "posterior", "exponential" or "heun", got "pcc")",
        "did you mean \"pc\"?");
  }
  SECTION("an unknown flow lists its table's choices") {
    check_error(load(kHeat + "flow = \"fedd\"\n"), "C004", 3, 8,
                R"(`process.flow` must be one of "auto", "explicit" or "fed", got "fedd")",
                "did you mean \"fed\"?");
  }
  SECTION("an unknown metric lists the valid ones") {
    check_error(load(kHeat + "[eval]\nmetrics = [\"fid\", \"kidd\"]\n"), "C004", 4, 11,
                R"(`eval.metrics` may hold "fid", "kid", "is" or "precision_recall", got "kidd")",
                "did you mean \"kid\"?");
  }
  SECTION("sample.order is 1 or 2") {
    check_error(load(kHeat + "[sample]\norder = 3\n"), "C004", 4, 9,
                "`sample.order` must be 1 or 2, got 3");
  }
  SECTION("EDM's keys: churn, time sampling, time input, sigma_data") {
    check_error(load(kHeat + "[sample]\nchurn = -1\n"), "C004", 4, 9,
                "`sample.churn` must be 0 (deterministic) or more, got -1");
    check_error(
        load(kHeat + "[train]\ntime_sampling = \"lognormal\"\n"), "C004", 4, 17,
        R"(`train.time_sampling` must be one of "uniform", "log_uniform" or "log_normal", got "lognormal")",
        "did you mean \"log_normal\"?");
    check_error(load(kHeat + "[train]\np_std = 0\n"), "C004", 4, 9,
                "`train.p_std` must be positive, got 0");
    check_error(load(kHeat + "[model]\ntime_input = \"sigma\"\n"), "C004", 4, 14,
                R"(`model.time_input` must be one of "time" or "log_sigma", got "sigma")");
    check_error(load(kHeat + "[model]\nsigma_data = 0\n"), "C004", 4, 14,
                "`model.sigma_data` must be positive, got 0");
  }
  SECTION("sample.eta is in [0, 1]") {
    check_error(load(kHeat + "[sample]\neta = 1.5\n"), "C004", 4, 7,
                "`sample.eta` must be in [0, 1], got 1.5");
  }
  SECTION("an unknown parameterisation lists the valid ones") {
    check_error(
        load(kHeat + "[model]\nparameterisation = \"eps\"\n"), "C004", 4, 20,
        R"(`model.parameterisation` must be one of "auto", "denoiser" or "noise", got "eps")");
  }
  SECTION("an unknown objective lists the valid ones") {
    const Loaded loaded = load(kHeat, {"train.objective=sliced_sm"});
    check_error(loaded, "C004", 1, 17,
                "`train.objective` must be one of \"auto\", \"exact\", \"decoupled\", "
                "\"local_dsm\", \"sliced\" or \"flow_matching\", got \"sliced_sm\"");
  }
  SECTION("a dataset other than Fashion-MNIST needs a path") {
    check_error(load(kHeat + "[data]\ndataset = \"cifar10\"\n"), "C004", 4, 11,
                "`data.path` is required for dataset \"cifar10\"");
  }
  SECTION("a label without a class-conditional model") {
    check_error(load(kHeat + "[sample]\nlabel = 3\n"), "C009", 4, 9,
                "`sample.label` needs a class-conditional model");
  }
}

TEST_CASE("process errors: missing, not found, unknown params, size disagreement", "[config]") {
  SECTION("no process at all") {
    check_error(load("[train]\nsteps = 1\n"), "C006", 1, 1,
                "the run names no process: `process.file` is required");
  }
  SECTION("a file that is nowhere") {
    check_error(load("[process]\nfile = \"nope.spde\"\n"), "C006", 2, 8,
                "process file \"nope.spde\" not found");
  }
  SECTION("a param the process does not declare") {
    check_error(load("[process]\nfile = \"perona_malik.spde\"\nparams = { lambda_mn = 0.1 }\n"),
                "C007", 3, 12, "process `perona_malik` has no param `lambda_mn`",
                "did you mean `lambda_min`?");
  }
  SECTION("the same from the command line") {
    check_error(load(kHeat, {"process.params.sise=16"}), "C007", 1, 16,
                "process `heat` has no param `sise`", "did you mean `size`?");
  }
  SECTION("process size and data size disagree") {
    check_error(load(kHeat + "[process.params]\nsize = 28\n"), "C009", 4, 8,
                "`process.params.size` = 28 disagrees with `data.size` = 32");
  }
  SECTION("a param value the process rejects is reported by the language") {
    const Loaded loaded = load(kHeat, {"process.params.T=-1"});
    INFO(loaded.rendered());
    CHECK_FALSE(loaded.config);
    CHECK(loaded.first().code.starts_with("E"));  // the language's own
    CHECK(loaded.rendered().find("note: with `process.params.T` = -1") != std::string::npos);
  }
}

TEST_CASE("syntax errors and malformed overrides", "[config]") {
  SECTION("not TOML") {
    const Loaded loaded = load(kHeat + "[train\n");
    INFO(loaded.rendered());
    REQUIRE_FALSE(loaded.config);
    CHECK(loaded.first().code == "C001");
    CHECK(loaded.first().start().line == 3);
  }
  SECTION("no `=`") {
    check_error(load(kHeat, {"train.steps"}), "C005", 1, 1,
                "expected an override `section.key=value`");
  }
  SECTION("no section") {
    check_error(load(kHeat, {"steps=5"}), "C005", 1, 1, "expected an override `section.key=value`");
  }
  SECTION("a missing file") {
    spdec::lang::Diagnostics diagnostics;
    CHECK_FALSE(spdec::config::load_run_config("/nonexistent/run.toml", {}, diagnostics));
    CHECK(diagnostics.all().front().code == "C008");
    CHECK_THROWS_AS(spdec::config::load_run_config_or_throw("/nonexistent/run.toml"),
                    spdec::config::ConfigError);
  }
}

TEST_CASE("the resolved config round-trips through config.toml", "[config]") {
  const fs::path dir = temp_dir("roundtrip");
  const Loaded loaded = load(
      "[process]\nfile = \"perona_malik.spde\"\nsemantics = \"sde\"\n"
      "[model]\nclass_conditional = true\nattention_resolutions = []\n",
      {"run.dir=" + (dir / "run").string(), "train.lr=3.3e-5", "sample.label=7",
       "sample.guidance=1.5", "forward.times=[0.001, 0.25, 2]", "forward.input=['a.png']",
       "process.params.lambda_min=0.1", R"(data.path="quoted \"path\"")"});
  INFO(loaded.rendered());
  REQUIRE(loaded.config);
  const fs::path saved = spdec::config::save_resolved(*loaded.config);
  CHECK(saved == dir / "run" / "config.toml");
  CHECK(fs::is_regular_file(saved));
  // No temporary left beside it.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir / "run")) ++files;
  CHECK(files == 1);

  spdec::lang::Diagnostics diagnostics;
  const auto again = spdec::config::load_run_config(saved.string(), {}, diagnostics);
  INFO(spdec::lang::render_all(diagnostics));
  REQUIRE(again);
  CHECK(*again == *loaded.config);
  CHECK(again->sample.label == 7);
  CHECK(again->process.params.at("lambda_min") == 0.1);
  CHECK(spdec::config::resolved_toml(*again).find("[train]") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("process.file resolves next to the TOML file, then in library/", "[config]") {
  const fs::path dir = temp_dir("paths");
  fs::copy_file(source_dir() / "library" / "heat.spde", dir / "mine.spde");
  {
    std::ofstream out(dir / "run.toml");
    out << "[process]\nfile = \"mine.spde\"\n[data]\ndataset = \"folder\"\npath = \"images\"\n";
  }
  spdec::lang::Diagnostics diagnostics;
  auto config = spdec::config::load_run_config((dir / "run.toml").string(), {}, diagnostics);
  INFO(spdec::lang::render_all(diagnostics));
  REQUIRE(config);
  CHECK(config->process.file == (dir / "mine.spde").string());
  CHECK(config->data.path == (dir / "images").string());
  CHECK(config->run.name == "run");

  // A library name, and a repository-relative library/ path, from anywhere.
  config = spdec::config::load_run_config((dir / "run.toml").string(), {"process.file=ve.spde"},
                                          diagnostics);
  REQUIRE(config);
  CHECK(config->process.file == (source_dir() / "library" / "ve.spde").lexically_normal().string());
  config = spdec::config::load_run_config((dir / "run.toml").string(),
                                          {"process.file=library/heat.spde"}, diagnostics);
  REQUIRE(config);
  CHECK(config->process.file ==
        (source_dir() / "library" / "heat.spde").lexically_normal().string());
  fs::remove_all(dir);
}

TEST_CASE("semantics override reclassifies the process", "[config]") {
  const Loaded loaded = load("[process]\nfile = \"perona_malik.spde\"\nsemantics = \"sde\"\n");
  REQUIRE(loaded.config);
  spdec::lang::Diagnostics diagnostics;
  const auto process = spdec::config::check_process(*loaded.config, diagnostics);
  REQUIRE(process);
  CHECK(process->semantics == spdec::lang::Semantics::sde);
  const auto declared = load("[process]\nfile = \"perona_malik.spde\"\n");
  REQUIRE(declared.config);
  const auto original = spdec::config::check_process(*declared.config, diagnostics);
  REQUIRE(original);
  CHECK(original->semantics == spdec::lang::Semantics::decoupled);
  CHECK(process->training.model == spdec::lang::ModelKind::sde);
  CHECK(original->training.model == spdec::lang::ModelKind::decoupled);
  CHECK(process->training.exact_objectives != original->training.exact_objectives);
}

TEST_CASE("every shipped run in specs/ loads without errors", "[config]") {
  std::vector<fs::path> specs;
  for (const auto& entry : fs::directory_iterator(source_dir() / "specs")) {
    if (entry.path().extension() == ".toml") specs.push_back(entry.path());
  }
  std::sort(specs.begin(), specs.end());
  REQUIRE(specs.size() >= 3);
  for (const fs::path& spec : specs) {
    INFO(spec.string());
    spdec::lang::Diagnostics diagnostics;
    const auto config = spdec::config::load_run_config(spec.string(), {}, diagnostics);
    INFO(spdec::lang::render_all(diagnostics));
    REQUIRE(config);
    CHECK(diagnostics.all().empty());
    // Its resolved form is the same run.
    const auto again = spdec::config::parse_run_config(spdec::config::resolved_toml(*config),
                                                       "config.toml", "/", {}, diagnostics);
    INFO(spdec::lang::render_all(diagnostics));
    REQUIRE(again);
    CHECK(*again == *config);
  }
}

TEST_CASE("outputs land in the run directory; choices are listed", "[config]") {
  const Loaded loaded = load(kHeat, {"run.dir=/tmp/spdec_run"});
  REQUIRE(loaded.config);
  CHECK(spdec::config::run_path(*loaded.config, "forward.png") == "/tmp/spdec_run/forward.png");
  CHECK(spdec::config::run_path(*loaded.config, "/abs/x.png") == "/abs/x.png");
  CHECK(spdec::config::valid_values("sample.sampler") ==
        std::vector<std::string>{"auto", "pc", "ode", "ancestral", "posterior", "exponential",
                                 "heun"});
  CHECK(spdec::config::valid_values("train.steps").empty());
}

TEST_CASE("enumerated keys are parsed once, into their enums, and written back by name",
          "[config]") {
  const Loaded loaded =
      load(kHeat, {"run.device=cpu", "process.flow=explicit", "process.backend=reference",
                   "data.range=\"[0,1]\"", "data.split=test", "eval.split=train",
                   "model.embedding=sinusoidal", "train.time_sampling=log_uniform",
                   "train.projections=gaussian", "train.prior=closed_form", "sample.grid=power",
                   "sample.prior=simulate", R"(eval.metrics=["fid", "precision_recall"])"});
  INFO(loaded.rendered());
  REQUIRE(loaded.config);
  const RunConfig& c = *loaded.config;
  CHECK(c.run.device == cfg::Device::cpu);
  CHECK(c.process.flow == cfg::Flow::explicit_steps);
  CHECK(c.process.backend == cfg::Backend::reference);
  CHECK(c.data.range == cfg::ValueRange::zero_one);
  CHECK(c.data.split == cfg::Split::test);
  CHECK(c.eval.split == cfg::Split::train);
  CHECK(c.model.embedding == cfg::TimeEmbedding::sinusoidal);
  CHECK(c.train.time_sampling == cfg::TimeSampling::log_uniform);
  CHECK(c.train.projections == cfg::Projections::gaussian);
  CHECK(c.train.prior == cfg::PriorChoice::closed_form);
  CHECK(c.sample.grid == cfg::GridChoice::power);
  CHECK(c.sample.prior == cfg::SamplePrior::simulate);
  CHECK(c.eval.metrics ==
        std::vector<cfg::Metric>{cfg::Metric::fid, cfg::Metric::precision_recall});
  const std::string toml = cfg::resolved_toml(c);
  CHECK(toml.find("flow = \"explicit\"\n") != std::string::npos);
  CHECK(toml.find("range = \"[0,1]\"\n") != std::string::npos);
  CHECK(toml.find("prior = \"simulate\"\n") != std::string::npos);
  CHECK(toml.find("metrics = [\"fid\", \"precision_recall\"]\n") != std::string::npos);
  // Every table's spellings are the config's choices.
  CHECK(cfg::valid_values("process.flow") == cfg::kFlows.names());
  CHECK(cfg::valid_values("data.range") == std::vector<std::string>{"[-1,1]", "[0,1]"});
}

TEST_CASE("a parameter without its section: the hint names process.params.NAME", "[config]") {
  // `spdec check -p K=0.1` takes it so; a run's override needs the section.
  const Loaded loaded = load(kHeat, {"T=3"});
  check_error(loaded, "C005", 1, 1, "expected an override `section.key=value`");
  CHECK(loaded.first().hint.find("process.params.T=3") != std::string::npos);
  CHECK(loaded.first().hint.find("-p T=") != std::string::npos);
  // A malformed key keeps the general hint.
  CHECK(load(kHeat, {"=3"}).first().hint.find("for example") != std::string::npos);
}

TEST_CASE("sample.output: a name stem for the sample files", "[config]") {
  CHECK(load(kHeat).config->sample.output == "samples");
  const Loaded named = load(kHeat, {"sample.output=samples_ode", "run.dir=/tmp/spdec_run"});
  REQUIRE(named.config);
  CHECK(named.config->sample.output == "samples_ode");
  CHECK(spdec::config::resolved_toml(*named.config).find("output = \"samples_ode\"") !=
        std::string::npos);
  const Loaded png = load(kHeat + "[sample]\noutput = \"grid.png\"\n");
  check_error(png, "C004", 4, 10,
              "`sample.output` is a name stem, without an extension, got \"grid.png\"");
  CHECK(png.first().hint.find("sample.output = \"grid\"") != std::string::npos);
  check_error(load(kHeat, {"sample.output=\"\""}), "C004", 1, 15,
              "`sample.output` must name files, got \"\"");
  check_error(load(kHeat, {"sample.output=dir/"}), "C004", 1, 15,
              "`sample.output` must name files, got \"dir/\"");
}

TEST_CASE("[edit]: strengths in (0, 1], an odd stroke width, a name stem", "[config]") {
  const Loaded plain = load(kHeat);
  REQUIRE(plain.config);
  CHECK(plain.config->edit.strength == 0.5);
  CHECK(plain.config->edit.sweep == std::vector<double>{0.2, 0.4, 0.6, 0.8, 1.0});
  const Loaded set = load(kHeat +
                          "[edit]\nstrength = 1\nsweep = [0.1, 0.3]\nseeds = 2\n"
                          "stroke_width = 5\noutput = \"strokes\"\n");
  REQUIRE(set.config);
  CHECK(set.config->edit.strength == 1.0);
  CHECK(set.config->edit.sweep == std::vector<double>{0.1, 0.3});
  CHECK(set.config->edit.stroke_width == 5);
  CHECK(spdec::config::resolved_toml(*set.config).find("[edit]") != std::string::npos);
  check_error(load(kHeat, {"edit.strength=0"}), "C004", 1, 15,
              "`edit.strength` must be in (0, 1], got 0");
  check_error(load(kHeat + "[edit]\nsweep = [0.5, 1.5]\n"), "C004", 4, 9,
              "`edit.sweep` must hold strengths in (0, 1]");
  check_error(load(kHeat, {"edit.stroke_width=4"}), "C004", 1, 19,
              "`edit.stroke_width` must be odd (a centred median window)");
  check_error(load(kHeat, {"edit.output=\"e.png\""}), "C004", 1, 13,
              "`edit.output` is a name stem, without an extension, got \"e.png\"");
}

TEST_CASE("data.split = test is refused for data sets without splits", "[config]") {
  const std::string folder = kHeat + "[data]\ndataset = \"folder\"\npath = \"/tmp\"\n";
  const Loaded loaded = load(folder + "split = \"test\"\n");
  check_error(loaded, "C009", 6, 9,
              "`data.split = \"test\"` does not apply to dataset \"folder\": it has no splits");
  CHECK(loaded.first().hint.find("point data.path at their folder") != std::string::npos);
  CHECK(load(kHeat + "[data]\ndataset = \"idx\"\npath = \"/tmp/x\"\n", {"data.split=test"})
            .first()
            .code == "C009");
  CHECK(load(folder + "split = \"train\"\n").config);
  CHECK(load(kHeat, {"data.split=test"}).config);  // Fashion-MNIST has its test split
}

TEST_CASE("differing keys, the same run, and a spec on a trained run", "[config]") {
  const std::string pm = "[process]\nfile = \"perona_malik.spde\"\n";
  const Loaded trained_load =
      load(pm, {"process.params.k=0.25", "model.base_channels=32", "process.flow=explicit",
                "train.steps=7", "sample.steps=9", "data.n=100"});
  const Loaded spec_load = load(pm, {"sample.steps=50", "process.backend=reference"});
  REQUIRE(trained_load.config);
  REQUIRE(spec_load.config);
  const RunConfig& trained = *trained_load.config;
  const RunConfig& spec = *spec_load.config;

  using Diff = spdec::config::KeyDifference;
  CHECK(spdec::config::differing_keys(trained, spec, {"process"}) ==
        std::vector<Diff>{{"process.backend", "\"auto\"", "\"reference\""},
                          {"process.flow", "\"explicit\"", "\"auto\""},
                          {"process.params.k", "0.25", "absent"}});
  CHECK(spdec::config::differing_keys(trained, trained, spdec::config::kTrainedSections).empty());

  CHECK(spdec::config::is_same_run(spec, trained));
  CHECK_FALSE(spdec::config::is_same_run(*load(kHeat).config, trained));  // another .spde
  CHECK_FALSE(spdec::config::is_same_run(*load(pm, {"run.name=other"}).config, trained));

  const RunConfig merged = spdec::config::with_trained_run(spec, trained);
  CHECK(merged.model == trained.model);
  CHECK(merged.data == trained.data);
  CHECK(merged.train == trained.train);
  CHECK(merged.process.params == trained.process.params);
  CHECK(merged.process.flow == cfg::Flow::explicit_steps);
  CHECK(merged.process.backend == cfg::Backend::reference);  // the spec's: how, not what
  CHECK(merged.sample == spec.sample);
  CHECK(merged.run == spec.run);
  // What the spec says otherwise, and is not used.
  const auto ignored = spdec::config::differing_keys(spec, merged, spdec::config::kTrainedSections);
  std::vector<std::string> keys;
  for (const auto& d : ignored) keys.push_back(d.key);
  CHECK(keys == std::vector<std::string>{"data.n", "model.base_channels", "process.flow",
                                         "process.params.k", "train.steps"});
}

TEST_CASE("train.distributed: the backend and the timeout of a job on several ranks", "[config]") {
  SECTION("defaults: auto, 600 s") {
    const Loaded loaded = load(kHeat);
    REQUIRE(loaded.config);
    CHECK(loaded.config->train.distributed.backend == cfg::DistributedBackend::automatic);
    CHECK(loaded.config->train.distributed.timeout == 600.0);
  }
  SECTION("as a table in the file, and as overrides") {
    const Loaded file = load(kHeat + "[train.distributed]\nbackend = \"gloo\"\ntimeout = 30\n");
    INFO(file.rendered());
    REQUIRE(file.config);
    CHECK(file.config->train.distributed.backend == cfg::DistributedBackend::gloo);
    CHECK(file.config->train.distributed.timeout == 30.0);
    const Loaded overridden =
        load(kHeat, {"train.distributed.backend=nccl", "train.distributed.timeout=2.5"});
    REQUIRE(overridden.config);
    CHECK(overridden.config->train.distributed.backend == cfg::DistributedBackend::nccl);
    CHECK(overridden.config->train.distributed.timeout == 2.5);
    CHECK(cfg::valid_values("train.distributed.backend") ==
          std::vector<std::string>{"auto", "gloo", "nccl"});
  }
  SECTION("errors name the key") {
    check_error(load(kHeat, {"train.distributed.backend=mpi"}), "C004", 1, 27,
                "`train.distributed.backend` must be one of \"auto\", \"gloo\" or \"nccl\", got "
                "\"mpi\"");
    check_error(load(kHeat + "[train.distributed]\ntimeout = 0\n"), "C004", 4, 11,
                "`train.distributed.timeout` must be positive (seconds), got 0");
    check_error(load(kHeat + "[train.distributed]\ntimout = 5\n"), "C002", 4, 1,
                "unknown key `train.distributed.timout`",
                "did you mean `train.distributed.timeout`?");
  }
  SECTION("written into config.toml and read back") {
    const Loaded loaded =
        load(kHeat, {"train.distributed.backend=gloo", "train.distributed.timeout=45"});
    REQUIRE(loaded.config);
    const std::string text = cfg::resolved_toml(*loaded.config);
    CHECK(text.find("[train.distributed]\nbackend = \"gloo\"\ntimeout = 45") != std::string::npos);
    const Loaded again = load(text);
    INFO(again.rendered());
    REQUIRE(again.config);
    CHECK(again.config->train.distributed == loaded.config->train.distributed);
  }
  SECTION("sampling a trained run keeps the spec's: how ranks talk is not what was trained") {
    const Loaded spec = load(kHeat, {"train.distributed.timeout=5"});
    const Loaded trained = load(kHeat, {"train.distributed.timeout=900", "train.lr=1e-3"});
    REQUIRE(spec.config);
    REQUIRE(trained.config);
    const RunConfig merged = cfg::with_trained_run(*spec.config, *trained.config);
    CHECK(merged.train.distributed.timeout == 5.0);
    CHECK(merged.train.lr == 1e-3);
  }
}

TEST_CASE("[autoencoder] and model.autoencoder: a latent run's keys and their checks",
          "[config][latent]") {
  SECTION("defaults: no latent space; the keys round-trip") {
    const Loaded loaded = load(kHeat);
    REQUIRE(loaded.config);
    CHECK_FALSE(cfg::is_latent(*loaded.config));
    CHECK(cfg::model_side(*loaded.config) == 32);
    CHECK(loaded.config->autoencoder == cfg::AutoencoderSection{});
    CHECK(cfg::resolved_toml(*loaded.config).find("[autoencoder]\nlatent_channels = 4\n") !=
          std::string::npos);
  }
  SECTION("model.autoencoder is relative to run.dir; the process's size is the latent side") {
    const Loaded loaded = load(kHeat +
                               "[run]\ndir = \"/tmp/latent-run\"\n"
                               "[model]\nautoencoder = \"autoencoder.pt\"\n"
                               "[autoencoder]\nfactor = 4\nlatent_channels = 3\n");
    INFO(loaded.rendered());
    REQUIRE(loaded.config);
    CHECK(cfg::is_latent(*loaded.config));
    CHECK(loaded.config->model.autoencoder == "/tmp/latent-run/autoencoder.pt");
    CHECK(cfg::model_side(*loaded.config) == 8);
    CHECK(loaded.config->process.params.at("size") == 8.0);
    // The resolved config loads back to the same run.
    const Loaded again = load(cfg::resolved_toml(*loaded.config));
    REQUIRE(again.config);
    CHECK(again.config->model == loaded.config->model);
    CHECK(again.config->autoencoder == loaded.config->autoencoder);
  }
  SECTION("a size the latent grid does not have") {
    const Loaded loaded = load(kHeat + "params = { size = 32 }\n[model]\nautoencoder = \"a.pt\"\n");
    INFO(loaded.rendered());
    REQUIRE_FALSE(loaded.config);
    CHECK(loaded.first().message ==
          "`process.params.size` = 32 disagrees with the latent side data.size / "
          "autoencoder.factor = 8");
  }
  SECTION("refusals: a factor that is no power of two, one that does not divide, flips") {
    check_error(load(kHeat + "[autoencoder]\nfactor = 3\n"), "C004", 4, 10,
                "`autoencoder.factor` must be a power of two, got 3");
    const Loaded divides =
        load(kHeat +
             "[data]\nsize = 28\n[model]\nautoencoder = \"a.pt\"\n[autoencoder]\nfactor "
             "= 8\n");
    REQUIRE_FALSE(divides.config);
    CHECK(divides.first().message ==
          "`data.size` = 28 is not a multiple of `autoencoder.factor` = 8");
    const Loaded flips = load(kHeat + "[data]\nflip = true\n[model]\nautoencoder = \"a.pt\"\n");
    REQUIRE_FALSE(flips.config);
    CHECK(flips.first().message ==
          "`data.flip` does not apply in latent space (model.autoencoder is set)");
  }
  SECTION("a trained run fixes [autoencoder] too") {
    const Loaded spec = load(kHeat);
    const Loaded trained = load(kHeat + "[autoencoder]\nchannels = 32\n");
    REQUIRE(spec.config);
    REQUIRE(trained.config);
    CHECK(cfg::with_trained_run(*spec.config, *trained.config).autoencoder.channels == 32);
    CHECK(std::find(cfg::kTrainedSections.begin(), cfg::kTrainedSections.end(), "autoencoder") !=
          cfg::kTrainedSections.end());
  }
}
