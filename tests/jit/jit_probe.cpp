// jit_probe: compiles one kernel through the host JIT and the kernel cache
// and prints what happened, e.g.
//   hit=1 memory=0 seconds=0.004121 value=3 key=probe-cpu-... path=/...so
// Run it twice: the second run, a fresh process, should be a disk hit in a
// few milliseconds.
//
//   jit_probe [--cache-dir DIR] [--source FILE] [--call SYMBOL] [--name NAME]
//
// Without --source it compiles a built-in `float spdec_probe(float)` and
// calls it; --call names a `float (float)` function to call with 1.0.
// Without --cache-dir the cache is the default one ($SPDEC_CACHE_DIR, ...).
// Exit status: 0 on success, 1 on a JIT error, 2 on bad arguments.
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/jit/files.hpp"
#include "codegen/jit/host_compiler.hpp"

namespace {

constexpr std::string_view kBuiltinSource =
    "extern \"C\" float spdec_probe(float x) { return 2.0f * x + 1.0f; }\n";

struct Arguments {
  std::string cache_dir;
  std::string source_file;
  std::string call = "spdec_probe";
  std::string name = "probe";
};

std::optional<Arguments> parse(const std::vector<std::string>& args) {
  Arguments out;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string& flag = args[i];
    const std::string& value = args[i + 1];
    if (flag == "--cache-dir") {
      out.cache_dir = value;
    } else if (flag == "--source") {
      out.source_file = value;
    } else if (flag == "--call") {
      out.call = value;
    } else if (flag == "--name") {
      out.name = value;
    } else {
      return std::nullopt;
    }
  }
  if (args.size() % 2 != 0) {
    return std::nullopt;
  }
  return out;
}

int run(const Arguments& args) {
  std::string source(kBuiltinSource);
  if (!args.source_file.empty()) {
    const auto text = spdec::jit::detail::read_file(args.source_file);
    if (!text) {
      std::cerr << "jit_probe: cannot read " << args.source_file << "\n";
      return 2;
    }
    source = *text;
  }
  std::unique_ptr<spdec::jit::KernelCache> own_cache;
  spdec::jit::HostCompilerOptions options;
  if (!args.cache_dir.empty()) {
    own_cache = std::make_unique<spdec::jit::KernelCache>(args.cache_dir);
    options.cache = own_cache.get();
  }
  spdec::jit::HostCompiler compiler(options);
  spdec::jit::CompileResult info;
  const auto library = compiler.compile(source, args.name, &info);
  const float value = library->function<float(float)>(args.call)(1.0F);
  std::cout << "hit=" << (info.cache_hit ? 1 : 0) << " memory=" << (info.memory_hit ? 1 : 0)
            << " seconds=" << std::fixed << info.seconds << std::defaultfloat << " value=" << value
            << " key=" << info.key << " path=" << info.artifact_path << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::optional<Arguments> parsed = parse(args);
  if (!parsed) {
    std::cerr << "usage: jit_probe [--cache-dir DIR] [--source FILE] [--call SYMBOL] "
                 "[--name NAME]\n";
    return 2;
  }
  try {
    return run(*parsed);
  } catch (const std::exception& error) {
    std::cerr << "jit_probe: " << error.what() << "\n";
    return 1;
  }
}
