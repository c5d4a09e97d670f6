// C number literals: decimal, hexadecimal (integer and float), binary and
// octal integers, suffixes, digit separators. All values are IEEE doubles.
#pragma once

#include <string>
#include <string_view>

namespace spdec::lang {

struct NumberLiteral {
  bool ok = false;
  double value = 0;
  bool octal = false;  ///< `017`: valid C, but rarely what a reader expects (W104)
  std::string error;   ///< why it is not a number, for E005
  std::string hint;
};

[[nodiscard]] NumberLiteral parse_number_literal(std::string_view text);

/// The shortest text that reads back as exactly `value` (for dumps and messages).
[[nodiscard]] std::string number_text(double value);

}  // namespace spdec::lang
