// The compiler, readable in one place: a checked process goes through the
// passes of codegen/passes.hpp in the order listed in pipeline.cpp, then to
// an emitter. Each pass can be dumped and is timed.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/program.hpp"
#include "lang/process.hpp"

namespace spdec::codegen {

struct PassTiming {
  std::string pass;
  double seconds = 0;
};

struct PipelineOptions {
  /// Called after each pass with its name and the program (e.g. print it).
  std::function<void(std::string_view pass, const StencilProgram&)> after_pass;
};

/// Lowers and optimises a checked process. Throws std::logic_error when the
/// verifier finds a compiler bug (with the IR dump in the message).
[[nodiscard]] StencilProgram build_program(const lang::Process& process,
                                           const PipelineOptions& options = {},
                                           std::vector<PassTiming>* timings = nullptr);

enum class Target { cpu, cuda };
[[nodiscard]] const char* name(Target target);

/// The kernel source for a target (codegen/emit_cpp.cpp, codegen/emit_cuda.cpp).
[[nodiscard]] std::string emit(const StencilProgram& program, Target target);

}  // namespace spdec::codegen
