#include "lang/number.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <string>
#include <system_error>

namespace spdec::lang {

namespace {

NumberLiteral failure(std::string error, std::string hint = {}) {
  NumberLiteral out;
  out.error = std::move(error);
  out.hint = std::move(hint);
  return out;
}

bool is_digit_in_base(char c, int base) {
  const auto u = static_cast<unsigned char>(c);
  switch (base) {
    case 2:
      return c == '0' || c == '1';
    case 8:
      return c >= '0' && c <= '7';
    case 10:
      return std::isdigit(u) != 0;
    default:
      return std::isxdigit(u) != 0;
  }
}

// Strips a C integer suffix (u, l, ll in any case and order) or a floating
// suffix (f, l); returns false when what remains after the digits is junk.
std::string_view strip_suffix(std::string_view body, bool is_float, bool hex) {
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  if (is_float) {
    const char last = body.empty() ? '\0' : lower(body.back());
    // `f` ends a decimal float; in a hex float it is a digit unless it
    // follows the p-exponent's digits. `l` is a suffix in both.
    const auto p = body.find_last_of("pP");
    const bool f_is_suffix = !hex || (p != std::string_view::npos && p + 1 < body.size() - 1);
    if (last == 'l' || (last == 'f' && f_is_suffix)) {
      body.remove_suffix(1);
    }
    return body;
  }
  std::size_t n = body.size();
  int us = 0;
  int ls = 0;
  while (n > 0) {
    const char c = lower(body[n - 1]);
    if (c == 'u' && us == 0) {
      ++us;
    } else if (c == 'l' && ls < 2) {
      ++ls;
    } else {
      break;
    }
    --n;
  }
  return body.substr(0, n);
}

NumberLiteral finish(double value, bool octal = false) {
  NumberLiteral out;
  if (!std::isfinite(value)) {
    return failure("number is too large for a double", "write `inf` for infinity");
  }
  out.ok = true;
  out.value = value;
  out.octal = octal;
  return out;
}

NumberLiteral parse_integer(std::string_view digits, int base, std::string_view original) {
  if (digits.empty()) {
    return failure("`" + std::string(original) + "` has no digits");
  }
  double value = 0;
  for (const char c : digits) {
    if (!is_digit_in_base(c, base)) {
      return failure("`" + std::string(original) + "` is not a valid base-" + std::to_string(base) +
                     " number: unexpected `" + std::string(1, c) + "`");
    }
    const int digit = std::isdigit(static_cast<unsigned char>(c)) != 0
                          ? c - '0'
                          : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    value = value * base + digit;
  }
  return finish(value, base == 8);
}

}  // namespace

NumberLiteral parse_number_literal(std::string_view text) {
  // Digit separators (C23 `1'000`) may only stand between digits.
  std::string clean;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\'') {
      const bool between = i > 0 && i + 1 < text.size() &&
                           std::isxdigit(static_cast<unsigned char>(text[i - 1])) != 0 &&
                           std::isxdigit(static_cast<unsigned char>(text[i + 1])) != 0;
      if (!between) {
        return failure("a digit separator `'` must stand between two digits");
      }
      continue;
    }
    clean += text[i];
  }
  std::string_view body = clean;
  const bool hex = body.size() >= 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X');
  const bool binary = body.size() >= 2 && body[0] == '0' && (body[1] == 'b' || body[1] == 'B');
  if (binary) {
    return parse_integer(strip_suffix(body.substr(2), false, false), 2, text);
  }
  if (hex) {
    const bool is_float = body.find_first_of(".pP") != std::string_view::npos;
    std::string_view digits = strip_suffix(body.substr(2), is_float, true);
    if (!is_float) {
      return parse_integer(digits, 16, text);
    }
    if (digits.find_first_of("pP") == std::string_view::npos) {
      return failure("hexadecimal float `" + std::string(text) + "` needs a binary exponent",
                     "write e.g. 0x1.8p3 (= 1.5 * 2^3)");
    }
    double value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value,
                                           std::chars_format::hex);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      return failure("`" + std::string(text) + "` is not a valid hexadecimal float");
    }
    return finish(value);
  }
  const bool is_float = body.find_first_of(".eE") != std::string_view::npos;
  std::string_view digits = strip_suffix(body, is_float, false);
  if (!is_float) {
    if (digits.size() > 1 && digits[0] == '0') {
      return parse_integer(digits.substr(1), 8, text);
    }
    return parse_integer(digits, 10, text);
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value,
                                         std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    // Underflow to zero is harmless; overflow is not what anyone meant.
    if (digits.find_first_of("eE") != std::string_view::npos &&
        digits.find("e-") == std::string_view::npos &&
        digits.find("E-") == std::string_view::npos) {
      return failure("number is too large for a double", "write `inf` for infinity");
    }
    return finish(0.0);
  }
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    std::string hint;
    const char last = digits.empty() ? '\0' : digits.back();
    if (last == 'e' || last == 'E' || last == '+' || last == '-') {
      hint = "an exponent needs digits, e.g. 1e-3";
    } else if (std::count(digits.begin(), digits.end(), '.') > 1) {
      hint = "a number has at most one decimal point";
    } else if (std::isalpha(static_cast<unsigned char>(last)) != 0) {
      hint = "a number cannot run into a name; multiplication needs `*`";
    }
    return failure("`" + std::string(text) + "` is not a valid number", hint);
  }
  return finish(value);
}

std::string number_text(double value) {
  std::array<char, 40> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return {buffer.data(), result.ptr};
}

}  // namespace spdec::lang
