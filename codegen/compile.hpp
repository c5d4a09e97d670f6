// From a lowered program to loadable kernels: emit the target's source and
// hand it to the JIT (codegen/jit/), which caches by everything that changes
// the artefact. Used by `spdec compile` and by the runtime's compiled backend.
#pragma once

#include <memory>
#include <string>

#include "codegen/jit/cache.hpp"
#include "codegen/jit/host_compiler.hpp"
#include "codegen/pipeline.hpp"
#include "codegen/program.hpp"

namespace spdec::codegen {

struct CompileOptions {
  /// CUDA: "sm_XY" (cubin) or "compute_XY" (PTX); empty = the current device's
  /// arch when a driver and device are present, else PTX for the oldest
  /// architecture NVRTC supports (JIT-compiled forward by any newer driver).
  std::string cuda_arch;
};

struct CompiledModule {
  Target target = Target::cpu;
  std::string source;
  std::shared_ptr<jit::SharedLibrary> library;  ///< cpu
  std::string image;                            ///< cuda: cubin bytes or PTX text
  std::string arch;                             ///< cuda: what image was built for
  jit::CompileResult info;                      ///< cache hit, seconds, key, path
};

/// Thrown when generated code does not compile — a bug in spdec, never the
/// user's: what() holds the compiler's messages, the numbered generated
/// source and the `.spde` locations it came from.
class GeneratedCodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What the CPU target's JIT runs the host compiler with (-fno-math-errno,
/// -fno-trapping-math, -march=native on top of jit::HostCompilerOptions'
/// defaults); tests compile emitted sources the same way.
[[nodiscard]] jit::HostCompilerOptions host_compiler_options();

/// "compute_XY" for the oldest architecture NVRTC supports: PTX any newer
/// driver JIT-compiles (what --emit ptx and GPU-less machines produce).
[[nodiscard]] std::string ptx_arch();

/// Emits and compiles (or loads from the cache). Throws GeneratedCodeError
/// (see above) or jit::JitError (no compiler, no NVRTC, I/O).
[[nodiscard]] CompiledModule compile_program(const StencilProgram& program, Target target,
                                             const CompileOptions& options = {});

/// Whether `target` can be compiled here (cpu: a host compiler runs; cuda:
/// NVRTC was built in), and if not, why.
[[nodiscard]] bool target_available(Target target, std::string* why = nullptr);

}  // namespace spdec::codegen
