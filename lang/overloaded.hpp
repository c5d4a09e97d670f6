// The visitor idiom for std::visit over the AST's variants.
#pragma once

namespace spdec::lang {

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
// Explicit guide: clang < 17 has no CTAD for aggregates (P1816).
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

}  // namespace spdec::lang
