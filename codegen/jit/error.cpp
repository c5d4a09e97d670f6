#include "codegen/jit/error.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace spdec::jit {

CompileError::CompileError(const std::string& summary, std::string log, std::string source)
    : JitError(log.empty() ? summary : summary + "\n" + log),
      log_(std::move(log)),
      source_(std::move(source)) {}

std::string numbered_source(std::string_view text) {
  if (text.empty()) {
    return {};
  }
  const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) +
                     (text.back() == '\n' ? 0 : 1);
  const std::size_t width = std::max<std::size_t>(4, std::to_string(lines).size());
  std::string out;
  out.reserve(text.size() + lines * (width + 4));
  std::size_t number = 1;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string label = std::to_string(number++);
    out.append(width - label.size(), ' ').append(label).append(" | ");
    out.append(text.substr(begin, end - begin)).push_back('\n');
    begin = end + 1;
  }
  return out;
}

}  // namespace spdec::jit
