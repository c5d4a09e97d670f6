// The emitted C++ is code the host compiler vectorises, asserted from the
// compiler's own report: library/perona_malik.spde's module compiled with the
// JIT's flags plus -fopt-info-vec-optimized (GCC; other compilers skip), and
// every loop the emitter marks `#pragma omp simd` (the interior row loops of
// every root, the row-buffer fills) and the noise's whole-block loop must be
// reported "loop vectorized". Also the row-buffer plan of that drift: the
// four neighbour conductances are one translate class.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "codegen/compile.hpp"
#include "codegen/emit.hpp"
#include "codegen/hoist.hpp"
#include "codegen/jit/files.hpp"
#include "codegen/jit/process.hpp"
#include "tests/codegen/support.hpp"

using namespace spdec::codegen;

namespace {

StencilProgram perona_malik() {
  return build_program(spdec::test::checked_file(
      (std::filesystem::path(SPDEC_SOURCE_DIR) / "library" / "perona_malik.spde").string()));
}

/// 1-based numbers of the source lines holding a loop that must vectorise.
std::vector<int> loops_to_vectorise(const std::string& source) {
  std::vector<int> lines;
  std::istringstream in(source);
  bool after_simd = false;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    const bool noise_blocks =
        line.find("spdec_gaussian4(a->seed, id, a->step, first_block + (unsigned int)k") !=
        std::string::npos;
    if (after_simd || noise_blocks) lines.push_back(noise_blocks ? number - 1 : number);
    after_simd = line.find("#pragma omp simd") != std::string::npos;
  }
  return lines;
}

/// The lines GCC reports "loop vectorized" for in `file`.
std::set<int> vectorised_lines(const std::string& report, const std::string& file) {
  std::set<int> lines;
  std::istringstream in(report);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(file + ":", 0) != 0 || line.find("loop vectorized") == std::string::npos) {
      continue;
    }
    lines.insert(std::stoi(line.substr(file.size() + 1)));
  }
  return lines;
}

}  // namespace

TEST_CASE("the four neighbour conductances of Perona-Malik are one row-buffer class",
          "[emit][hoist]") {
  StencilProgram p = perona_malik();
  const HoistPlan plan = plan_hoists(p.graph, p.drift.interior);
  REQUIRE(plan.classes.size() == 1);
  std::set<std::pair<int, int>> offsets;
  for (const auto& [node, read] : plan.reads) offsets.insert({read.dx, read.dy});
  // Anchored at the conductance's lowest leaf (one row below its node).
  CHECK(offsets == std::set<std::pair<int, int>>{{1, -1}, {-1, -1}, {0, 0}, {0, -2}});
  CHECK(plan.classes[0].rows() == 3);
  // Neumann, a drift reading u through one ghost rule per leaf: the padded path.
  CHECK_THAT(emit_cpp(p), Catch::Contains("spdec_b_pad(u, u0, sample, H, W, c, ws)"));
}

TEST_CASE("the row loops of the emitted C++ are vectorised", "[emit][vectorise]") {
  // The JIT's compiler and flags, exactly.
  const spdec::jit::HostCompiler host(host_compiler_options());
  const std::string& compiler = host.compiler();
  const auto version = spdec::jit::detail::run_process({compiler, "--version"}, {});
  if (version.output.find("Free Software Foundation") == std::string::npos ||
      version.output.find("clang") != std::string::npos) {
    WARN("not GCC (" << compiler << "): -fopt-info-vec is GCC's; skipped");
    return;
  }
  const std::string source = emit_cpp(perona_malik());
  std::string error;
  auto dir = spdec::jit::detail::TempDir::create(std::filesystem::temp_directory_path(),
                                                 "spdec-vectorise-test-", &error);
  REQUIRE(dir);
  const std::string file = (dir->path() / "kernels.cpp").string();
  std::ofstream(file) << source;

  std::vector<std::string> argv{compiler};
  argv.insert(argv.end(), host.flags().begin(), host.flags().end());
  for (const char* more : {"-fopt-info-vec-optimized", "-c", "-o"}) argv.emplace_back(more);
  argv.push_back((dir->path() / "kernels.o").string());
  argv.push_back(file);
  const auto result = spdec::jit::detail::run_process(argv, {});
  INFO(result.output);
  REQUIRE(result.exit_code == 0);

  const std::set<int> vectorised = vectorised_lines(result.output, file);
  const std::vector<int> loops = loops_to_vectorise(source);
  CHECK(loops.size() >= 8);  // drift: padded + interior rows, a buffer fill; FED rows; noise
  std::istringstream in(source);
  std::vector<std::string> text;
  for (std::string line; std::getline(in, line);) text.push_back(line);
  for (const int line : loops) {
    INFO("line " << line << ": " << text.at(static_cast<std::size_t>(line - 1)));
    CHECK(vectorised.count(line) == 1);
  }
}
