#include "tools/spdec/overrides.hpp"

#include <memory>

namespace spdec::cli {

std::vector<lang::ParamOverride> parse_overrides(const std::vector<std::string>& items,
                                                 lang::Diagnostics& diagnostics) {
  std::vector<lang::ParamOverride> overrides;
  for (const std::string& item : items) {
    // The value may itself contain `=`: split at the first one.
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      auto line = std::make_shared<const lang::SourceFile>("<command line>", "--param " + item);
      diagnostics.error("E051", line, {8, static_cast<std::uint32_t>(8 + item.size())},
                        "expected --param NAME=VALUE", "for example --param size=64");
      continue;
    }
    overrides.push_back({item.substr(0, eq), item.substr(eq + 1)});
  }
  return overrides;
}

}  // namespace spdec::cli
