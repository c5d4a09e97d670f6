// One message per rule that can be required (`must<>`), each prefixed with
// its stable error code ("E002|..."). A rule without a message fails to
// compile (must_if's RequireMessage), so no error is ever "parse error
// matching tao::pegtl::...".
#pragma once

#include "lang/grammar.hpp"

namespace spdec::lang::grammar {

template <typename Rule>
inline constexpr const char* error_message = nullptr;

// clang-format off
template <> inline constexpr auto error_message<statement_body> = "E001|expected a statement (process, param, schedule, a function definition, drift, diffusion, noise, boundary, time, semantics, channels, scheme or gradient)";
template <> inline constexpr auto error_message<reserved_name> = "E015|a reserved word cannot be used as a name";
template <> inline constexpr auto error_message<decl_name> = "E002|expected a name";
template <> inline constexpr auto error_message<schedule_variable> = "E002|expected the schedule's time variable, e.g. `t`";
template <> inline constexpr auto error_message<function_param> = "E002|expected a parameter name";
template <> inline constexpr auto error_message<function_params> = "E002|expected parameter names separated by `,`";
template <> inline constexpr auto error_message<filter_variable> = "E002|expected the filter's eigenvalue variable, e.g. `kappa`";
template <> inline constexpr auto error_message<equals> = "E002|expected `=`";
template <> inline constexpr auto error_message<expect_lparen> = "E002|expected `(`";
template <> inline constexpr auto error_message<expect_rparen> = "E002|expected `)`";
template <> inline constexpr auto error_message<call_rparen> = "E002|expected `,` or `)` in the argument list";
template <> inline constexpr auto error_message<group_rparen> = "E002|expected `)`";
template <> inline constexpr auto error_message<expr> = "E002|expected an expression";
template <> inline constexpr auto error_message<argument> = "E002|expected an argument after `,`";
template <> inline constexpr auto error_message<operand> = "E002|expected an operand";
template <> inline constexpr auto error_message<operand_sum> = "E002|expected an operand after `+` or `-`";
template <> inline constexpr auto error_message<operand_cmp> = "E002|expected an operand after the comparison";
template <> inline constexpr auto error_message<operand_and> = "E002|expected an operand after `&&`";
template <> inline constexpr auto error_message<operand_or> = "E002|expected an operand after `||`";
template <> inline constexpr auto error_message<no_chained_comparison> = "E001|comparisons do not chain";
template <> inline constexpr auto error_message<keyword<kw_knots>> = "E002|expected `knots` after `learnable`";
template <> inline constexpr auto error_message<keyword<kw_init>> = "E002|expected `init` and the initial value after `knots(N)`";
template <> inline constexpr auto error_message<knot_count> = "E002|expected the number of knots";
template <> inline constexpr auto error_message<noise_item> = "E002|expected `correlation_length = VALUE` or `filter(kappa) = EXPR`";
template <> inline constexpr auto error_message<boundary_kind> = "E045|expected a boundary kind: neumann, periodic or dirichlet VALUE";
template <> inline constexpr auto error_message<time_item> = "E045|expected a time setting: T, t0, dt or taming";
template <> inline constexpr auto error_message<time_value> = "E002|expected a value (or `off` for taming)";
template <> inline constexpr auto error_message<semantics_value> = "E045|expected `sde` or `decoupled`";
template <> inline constexpr auto error_message<channels_value> = "E045|expected `independent` or `coupled`";
template <> inline constexpr auto error_message<scheme_value> = "E045|expected `paper`, `face_mean` or `face_gradient`";
template <> inline constexpr auto error_message<gradient_value> = "E045|expected `difference` or `central`";
template <> inline constexpr auto error_message<tao::pegtl::eof> = "E001|unexpected text after the value";
// clang-format on

struct errors {
  template <typename Rule>
  static constexpr auto message = error_message<Rule>;
};

template <typename Rule>
using control = tao::pegtl::must_if<errors>::control<Rule>;

}  // namespace spdec::lang::grammar
