// One table per enumeration: its values and their spellings, from which the
// name, the parser and the list of choices an error message shows are all
// derived, so that the three can never disagree. Torch-free and constexpr;
// used by lang, the run configuration and the runtime.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spdec::lang {

template <typename Enum>
struct EnumEntry {
  Enum value;
  std::string_view name;  ///< a string literal: name().data() is NUL-terminated
};

template <typename Enum, std::size_t N>
class EnumTable {
 public:
  constexpr explicit EnumTable(std::array<EnumEntry<Enum>, N> entries) : entries_(entries) {}

  /// The spelling of `value`; "?" for a value outside the table.
  [[nodiscard]] constexpr const char* name(Enum value) const {
    for (const EnumEntry<Enum>& e : entries_) {
      if (e.value == value) return e.name.data();
    }
    return "?";
  }

  [[nodiscard]] constexpr std::optional<Enum> parse(std::string_view text) const {
    for (const EnumEntry<Enum>& e : entries_) {
      if (e.name == text) return e.value;
    }
    return std::nullopt;
  }

  /// "a | b | c": the choices as a message lists them.
  [[nodiscard]] std::string choices(std::string_view separator = " | ") const {
    std::string out;
    for (const EnumEntry<Enum>& e : entries_) {
      if (!out.empty()) out += separator;
      out += e.name;
    }
    return out;
  }

  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(N);
    for (const EnumEntry<Enum>& e : entries_) out.emplace_back(e.name);
    return out;
  }

  [[nodiscard]] constexpr const std::array<EnumEntry<Enum>, N>& entries() const { return entries_; }

 private:
  std::array<EnumEntry<Enum>, N> entries_;
};

}  // namespace spdec::lang
