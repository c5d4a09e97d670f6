#include "codegen/compile.hpp"

#include <sstream>

#include "codegen/emit.hpp"
#include "codegen/jit/cuda_driver.hpp"
#include "codegen/jit/error.hpp"
#include "codegen/jit/nvrtc.hpp"

namespace spdec::codegen {
namespace {

std::string location(const StencilProgram& program, const char* what, lang::Span span) {
  if (!program.file) return what;
  const lang::LineColumn at = program.file->line_column(span.begin);
  return std::string(what) + " at " + program.file->path() + ":" + std::to_string(at.line) + ":" +
         std::to_string(at.column);
}

[[noreturn]] void report_generated_code_error(const StencilProgram& program, Target target,
                                              const jit::CompileError& error) {
  std::ostringstream out;
  out << "spdec internal error: the generated " << name(target)
      << " code does not compile. This is a bug in spdec, not in your process; please report it "
         "with the text below.\n"
      << "generated from " << location(program, "the drift", program.drift_span) << " and "
      << location(program, "the diffusion", program.diffusion_span) << "\n"
      << "--- compiler messages ---\n"
      << error.log() << "\n--- generated source ---\n"
      << jit::numbered_source(error.source());
  throw GeneratedCodeError(out.str());
}

std::string default_cuda_arch() {
  if (jit::cuda_driver_available()) {
    return jit::NvrtcCompiler::arch_for_device(jit::device_compute_capability());
  }
  return ptx_arch();
}

}  // namespace

/// errno and FP traps are never observed by generated code; without them the
/// compiler vectorises sqrt and if-converts selects. -march=native (the cache
/// key then holds this CPU's model and features) gives AVX2 and a hardware
/// fma to the noise stream; -std=c++17 keeps -ffp-contract=off, so no product
/// is fused behind our back. Results do not change.
jit::HostCompilerOptions host_compiler_options() {
  jit::HostCompilerOptions options;
  options.extra_flags = {"-fno-math-errno", "-fno-trapping-math"};
  options.native = true;
  return options;
}

std::string ptx_arch() {
  const std::vector<int> archs = jit::NvrtcCompiler::supported_archs();
  if (archs.empty()) throw jit::JitError("NVRTC lists no supported architecture");
  return "compute_" + std::to_string(archs.front());
}

CompiledModule compile_program(const StencilProgram& program, Target target,
                               const CompileOptions& options) {
  CompiledModule module;
  module.target = target;
  module.source = emit(program, target);
  const std::string kernel_name = mangle(program.process_name);
  try {
    if (target == Target::cpu) {
      static jit::HostCompiler host(
          host_compiler_options());  // one per process: it memoises what it loaded
      module.library = host.compile(module.source, kernel_name, &module.info);
    } else {
      static jit::NvrtcCompiler nvrtc;
      module.arch = options.cuda_arch.empty() ? default_cuda_arch() : options.cuda_arch;
      module.image = nvrtc.compile(module.source, module.arch, kernel_name, &module.info);
    }
  } catch (const jit::CompileError& error) {
    report_generated_code_error(program, target, error);
  }
  return module;
}

bool target_available(Target target, std::string* why) {
  try {
    if (target == Target::cpu) {
      static const jit::HostCompiler host;
      (void)host.identity();  // runs `<cxx> --version` once
      return true;
    }
    if (!jit::nvrtc_built()) {
      if (why)
        *why = "this spdec was built without the CUDA backend (no NVRTC found at configure time)";
      return false;
    }
    return true;
  } catch (const std::exception& error) {
    if (why) *why = error.what();
    return false;
  }
}

}  // namespace spdec::codegen
