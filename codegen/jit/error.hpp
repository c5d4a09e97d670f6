// Errors of the JIT: JitError for everything that keeps a kernel from being
// built or run (no compiler, no driver, a failed dlopen, ...), CompileError
// when the compiler rejected the generated source.
//
// A CompileError is always a bug in a code generator, never a user mistake,
// so it carries everything needed to debug it: the compiler's own messages
// (log) and the source it was given (print it with numbered_source, since
// compiler messages refer to line numbers).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace spdec::jit {

class JitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class CompileError : public JitError {
 public:
  /// what() is the summary followed by the log; the source is kept aside.
  CompileError(const std::string& summary, std::string log, std::string source);

  /// The compiler's messages (host compiler stdout+stderr, or the NVRTC log).
  [[nodiscard]] const std::string& log() const { return log_; }
  /// The source text that failed to compile.
  [[nodiscard]] const std::string& source() const { return source_; }

 private:
  std::string log_;
  std::string source_;
};

/// The text with a right-aligned 1-based line number before each line
/// ("   12 | code"), ending with a newline; empty for an empty text.
[[nodiscard]] std::string numbered_source(std::string_view text);

}  // namespace spdec::jit
