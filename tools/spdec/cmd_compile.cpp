// spdec compile FILE.spde [--param N=V ...] [--target cpu|cuda|all]
//                         [--emit ir|cpp|cuda|ptx] [-o DIR] [--dump-passes]
//
// Checks the process, runs the compiler's passes and compiles the kernels for
// each target through the kernel cache, printing per target whether the
// cache hit and how long it took. --emit prints (or with -o writes) the IR or
// a generated source instead of (cpp, cuda) or besides (ptx) compiling.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "codegen/compile.hpp"
#include "codegen/emit.hpp"
#include "codegen/pipeline.hpp"
#include "lang/atomic_write.hpp"
#include "lang/check.hpp"
#include "lang/hash.hpp"
#include "tools/spdec/commands.hpp"
#include "tools/spdec/overrides.hpp"

namespace spdec::cli {
namespace {

struct CompileArgs {
  std::string file;
  std::vector<std::string> params;
  std::string target = "cpu";
  std::string emit;
  std::string output_dir;
  bool dump_passes = false;
};

std::vector<codegen::Target> targets_of(const std::string& target) {
  if (target == "cpu") return {codegen::Target::cpu};
  if (target == "cuda") return {codegen::Target::cuda};
  return {codegen::Target::cpu, codegen::Target::cuda};
}

/// Longest file stem written: a file name (stem, extension and the atomic
/// write's ".tmp-<pid>-<n>." prefix) must stay under the usual 255 bytes.
constexpr std::size_t kMaxStem = 200;

/// `stem`, or when longer than kMaxStem its head and a hash of the whole
/// (two long names that share a head still get two files).
std::string file_stem(const std::string& stem) {
  if (stem.size() <= kMaxStem) return stem;
  const std::string hash = lang::hex64(lang::fnv1a64(stem));
  return stem.substr(0, kMaxStem - hash.size() - 1) + "-" + hash;
}

/// Writes `text` to DIR/<stem><extension> (the stem capped by file_stem),
/// or prints it when no DIR was given.
void deliver(const CompileArgs& args, const std::string& stem, const std::string& extension,
             const std::string& text) {
  if (args.output_dir.empty()) {
    std::cout << text;
    return;
  }
  const std::filesystem::path dir(args.output_dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
  const std::filesystem::path path = dir / (file_stem(stem) + extension);
  if (const auto failure = lang::write_file_atomically(path, text)) {
    throw std::runtime_error(failure->message());
  }
  std::cerr << "wrote " << path.string() << "\n";
}

std::string describe_compile(codegen::Target target, const codegen::CompiledModule& module) {
  std::string line = std::string(codegen::name(target)) + ": ";
  line += module.info.cache_hit ? "cache hit" : "compiled (cache miss)";
  line += ", " + std::to_string(std::lround(module.info.seconds * 1000.0)) + " ms";
  if (target == codegen::Target::cuda) line += ", " + module.arch;
  if (!module.info.artifact_path.empty()) line += "\n  " + module.info.artifact_path;
  return line;
}

int run_compile(const CompileArgs& args) {
  lang::Diagnostics diagnostics;
  lang::CheckOptions options;
  options.overrides = parse_overrides(args.params, diagnostics);
  options.warnings = false;  // `spdec check` reports them; compile stays quiet
  std::optional<lang::Process> process;
  if (!diagnostics.has_errors()) process = lang::check_file(args.file, options, diagnostics);
  std::cerr << lang::render_all(diagnostics, {stderr_wants_color()});
  if (!process) return 1;

  codegen::PipelineOptions pipeline;
  if (args.dump_passes) {
    pipeline.after_pass = [](std::string_view pass, const codegen::StencilProgram& program) {
      std::cerr << "--- after " << pass << " ---\n" << codegen::print(program);
    };
  }
  std::vector<codegen::PassTiming> timings;
  const codegen::StencilProgram program = codegen::build_program(*process, pipeline, &timings);
  if (args.dump_passes) {
    for (const auto& timing : timings) {
      std::cerr << "pass " << timing.pass << ": " << timing.seconds * 1e3 << " ms\n";
    }
  }
  const std::string stem = codegen::mangle(program.process_name);

  if (args.emit == "ir") {
    deliver(args, stem, ".ir", codegen::print(program));
    return 0;
  }
  if (args.emit == "cpp" || args.emit == "cuda") {
    const auto target = args.emit == "cpp" ? codegen::Target::cpu : codegen::Target::cuda;
    deliver(args, stem, args.emit == "cpp" ? ".cpp" : ".cu", codegen::emit(program, target));
    return 0;
  }
  const auto targets =
      args.emit == "ptx" ? std::vector{codegen::Target::cuda} : targets_of(args.target);
  for (const codegen::Target target : targets) {
    std::string why;
    if (!codegen::target_available(target, &why)) {
      std::cerr << "spdec compile: target " << codegen::name(target) << " unavailable: " << why
                << "\n";
      return 1;
    }
    codegen::CompileOptions compile_options;
    if (args.emit == "ptx") compile_options.cuda_arch = codegen::ptx_arch();
    const codegen::CompiledModule module =
        codegen::compile_program(program, target, compile_options);
    std::cout << describe_compile(target, module) << "\n";
    if (args.emit == "ptx") deliver(args, stem, ".ptx", module.image);
  }
  return 0;
}

}  // namespace

void add_compile_command(CLI::App& app, Outcome& outcome) {
  auto args = std::make_shared<CompileArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compile", "Compile a .spde process into kernels (C++ for the CPU, CUDA through NVRTC)");
  cmd->add_option("file", args->file, "the .spde file")->required();
  cmd->add_option("-p,--param", args->params, "override a parameter: NAME=VALUE (repeatable)");
  cmd->add_option("--target", args->target, "cpu, cuda or all (default cpu)")
      ->check(CLI::IsMember({"cpu", "cuda", "all"}));
  cmd->add_option("--emit", args->emit, "print ir, cpp or cuda source, or ptx (compiled)")
      ->check(CLI::IsMember({"ir", "cpp", "cuda", "ptx"}));
  cmd->add_option("-o,--output", args->output_dir, "write --emit output into this directory");
  cmd->add_flag("--dump-passes", args->dump_passes, "print the IR after each pass and pass times");
  cmd->callback([args, &outcome] { outcome.exit_code = run_compile(*args); });
}

}  // namespace spdec::cli
