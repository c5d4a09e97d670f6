// The `.spde` grammar: PEGTL rules only (messages in grammar_errors.hpp, the
// tree-to-AST conversion in parser.cpp).
//
// The parser reads one statement at a time (see parser.cpp), so a syntax error
// costs one statement, not the rest of the file. Every `must<>` names a rule
// that has a message; tests assert `analyze<statement>() == 0`.
#pragma once

#include <cstddef>
#include <tao/pegtl.hpp>

namespace spdec::lang::grammar {

namespace p = tao::pegtl;

/// Expression nesting (parentheses, calls, unary operators) is limited so a
/// hostile input cannot exhaust the stack: deeper input gets E004.
inline constexpr std::size_t kMaxNesting = 64;

// --- whitespace and comments ------------------------------------------------
struct line_comment : p::seq<p::sor<p::one<'#'>, p::two<'/'>>, p::until<p::eolf>> {};
struct ws : p::star<p::sor<p::space, line_comment>> {};
template <typename Rule>
struct token : p::seq<Rule, ws> {};

// --- words ------------------------------------------------------------------
struct kw_process : TAO_PEGTL_KEYWORD("process") {};
struct kw_param : TAO_PEGTL_KEYWORD("param") {};
struct kw_schedule : TAO_PEGTL_KEYWORD("schedule") {};
struct kw_drift : TAO_PEGTL_KEYWORD("drift") {};
struct kw_diffusion : TAO_PEGTL_KEYWORD("diffusion") {};
struct kw_noise : TAO_PEGTL_KEYWORD("noise") {};
struct kw_boundary : TAO_PEGTL_KEYWORD("boundary") {};
struct kw_time : TAO_PEGTL_KEYWORD("time") {};
struct kw_semantics : TAO_PEGTL_KEYWORD("semantics") {};
struct kw_channels : TAO_PEGTL_KEYWORD("channels") {};
struct kw_scheme : TAO_PEGTL_KEYWORD("scheme") {};
struct kw_gradient : TAO_PEGTL_KEYWORD("gradient") {};
struct kw_learnable : TAO_PEGTL_KEYWORD("learnable") {};
struct kw_knots : TAO_PEGTL_KEYWORD("knots") {};
struct kw_init : TAO_PEGTL_KEYWORD("init") {};
struct kw_inf : TAO_PEGTL_KEYWORD("inf") {};
struct kw_pi : TAO_PEGTL_KEYWORD("pi") {};

/// Words that can never name a parameter, schedule or function.
struct reserved : p::sor<kw_process, kw_param, kw_schedule, kw_drift, kw_diffusion, kw_noise,
                         kw_boundary, kw_time, kw_semantics, kw_channels, kw_scheme, kw_gradient,
                         kw_learnable, kw_knots, kw_init, kw_inf, kw_pi> {};

/// Contextual option words: keywords only in their statement.
struct kw_correlation_length : TAO_PEGTL_KEYWORD("correlation_length") {};
struct kw_filter : TAO_PEGTL_KEYWORD("filter") {};
struct kw_neumann : TAO_PEGTL_KEYWORD("neumann") {};
struct kw_periodic : TAO_PEGTL_KEYWORD("periodic") {};
struct kw_dirichlet : TAO_PEGTL_KEYWORD("dirichlet") {};
struct kw_T : TAO_PEGTL_KEYWORD("T") {};
struct kw_t0 : TAO_PEGTL_KEYWORD("t0") {};
struct kw_dt : TAO_PEGTL_KEYWORD("dt") {};
struct kw_taming : TAO_PEGTL_KEYWORD("taming") {};
struct kw_off : TAO_PEGTL_KEYWORD("off") {};

/// A name being declared (raises E015 on a reserved word).
struct reserved_name : reserved {};
struct decl_name : p::sor<p::seq<p::at<reserved>, p::raise<reserved_name>>, p::identifier> {};
/// A name used in an expression: `inf` and `pi` are constants, other reserved
/// words end the expression (so `drift = a` then `diffusion = b` read right).
struct name_ref : p::seq<p::sor<kw_inf, kw_pi, p::seq<p::not_at<reserved>, p::identifier>>> {};

// --- punctuation ------------------------------------------------------------
struct lparen : token<p::one<'('>> {};
struct rparen : token<p::one<')'>> {};
/// The same tokens where they are required (these carry error messages).
struct expect_lparen : lparen {};
struct expect_rparen : rparen {};
struct comma : token<p::one<','>> {};
struct equals : token<p::seq<p::one<'='>, p::not_at<p::one<'='>>>> {};

// --- numbers ----------------------------------------------------------------
/// A C "pp-number": digits, letters, `.`, digit separators, and a sign after
/// an exponent letter. Its validity and value are decided by number.cpp, so
/// `1.2.3`, `1e` and `0x` are one token with one clear error (E005).
struct exponent_sign : p::seq<p::one<'e', 'E', 'p', 'P'>, p::one<'+', '-'>> {};
struct number
    : p::seq<p::sor<p::digit, p::seq<p::one<'.'>, p::digit>>,
             p::star<p::sor<exponent_sign, p::identifier_other, p::one<'.'>, p::one<'\''>>>> {};

// --- expressions ------------------------------------------------------------
struct expr;

struct op_or : token<p::two<'|'>> {};
struct op_and : token<p::two<'&'>> {};
struct op_eq : token<p::two<'='>> {};
struct op_ne : token<p::string<'!', '='>> {};
struct op_le : token<p::string<'<', '='>> {};
struct op_ge : token<p::string<'>', '='>> {};
struct op_lt : token<p::one<'<'>> {};
struct op_gt : token<p::one<'>'>> {};
struct op_add : token<p::one<'+'>> {};
struct op_sub : token<p::one<'-'>> {};
struct op_mul : token<p::one<'*'>> {};  // `**` then fails with a hint to use `^`
struct op_div : token<p::seq<p::one<'/'>, p::not_at<p::one<'/'>>>> {};
struct op_pow : token<p::one<'^'>> {};
struct op_neg : token<p::one<'-'>> {};
struct op_plus : token<p::one<'+'>> {};
struct op_not : token<p::seq<p::one<'!'>, p::not_at<p::one<'='>>>> {};

struct operand;  // what must follow a binary operator
struct operand_sum;
struct operand_cmp;
struct operand_and;
struct operand_or;
struct call_close : p::one<')'> {};
struct call_rparen : token<call_close> {};
struct group_rparen : rparen {};
struct argument;
struct arguments : p::opt<p::list_must<argument, comma>> {};
struct callee : p::identifier {};
struct call : p::seq<callee, ws, lparen, arguments, p::must<call_rparen>> {};
struct paren_group : p::seq<lparen, p::must<expr>, p::must<group_rparen>> {};
struct number_token : token<number> {};
struct name_token : token<name_ref> {};
struct primary : p::sor<paren_group, number_token, call, name_token> {};

struct unary;
struct power : p::seq<primary, p::opt<op_pow, p::must<operand>>> {};
struct prefixed : p::seq<p::sor<op_neg, op_plus, op_not>, p::must<operand>> {};
/// Every level of expression nesting passes through `unary` exactly once,
/// which is where the depth limit sits (parser.cpp attaches limit_depth).
struct unary : p::sor<prefixed, power> {};
struct operand : unary {};

struct product : p::seq<unary, p::star<p::sor<op_mul, op_div>, p::must<operand>>> {};
struct sum : p::seq<product, p::star<p::sor<op_add, op_sub>, p::must<operand_sum>>> {};
struct comparison_op : p::sor<op_eq, op_ne, op_le, op_ge, op_lt, op_gt> {};
struct no_chained_comparison : p::not_at<comparison_op> {};
struct comparison
    : p::seq<sum, p::opt<comparison_op, p::must<operand_cmp>, p::must<no_chained_comparison>>> {};
struct conjunction : p::seq<comparison, p::star<op_and, p::must<operand_and>>> {};
struct disjunction : p::seq<conjunction, p::star<op_or, p::must<operand_or>>> {};
struct expr : disjunction {};
struct argument : expr {};

struct operand_sum : product {};
struct operand_cmp : sum {};
struct operand_and : comparison {};
struct operand_or : conjunction {};

// --- statements -------------------------------------------------------------
template <typename Keyword>
struct keyword : token<Keyword> {};

struct process_decl : p::seq<keyword<kw_process>, p::must<decl_name>, ws> {};
struct param_decl
    : p::seq<keyword<kw_param>, p::must<decl_name>, ws, p::must<equals>, p::must<expr>> {};

struct knot_count : number_token {};
struct learnable_spec : p::seq<keyword<kw_learnable>, p::must<keyword<kw_knots>>,
                               p::must<expect_lparen>, p::must<knot_count>, p::must<expect_rparen>,
                               p::must<keyword<kw_init>>, p::must<expr>> {};
struct schedule_variable : decl_name {};
struct schedule_decl : p::seq<keyword<kw_schedule>, p::must<decl_name>, ws, p::must<expect_lparen>,
                              p::must<schedule_variable>, ws, p::must<expect_rparen>,
                              p::must<equals>, p::sor<learnable_spec, p::must<expr>>> {};

struct function_param : decl_name {};
struct function_params : p::opt<p::list_must<function_param, p::seq<ws, comma>>, ws> {};
struct function_name : p::identifier {};
struct function_decl
    : p::seq<p::not_at<reserved>, function_name, ws, lparen, p::must<function_params>,
             p::must<expect_rparen>, p::must<equals>, p::must<expr>> {};

struct drift_decl : p::seq<keyword<kw_drift>, p::must<equals>, p::must<expr>> {};
struct diffusion_decl : p::seq<keyword<kw_diffusion>, p::must<equals>, p::must<expr>> {};

struct filter_variable : decl_name {};
struct correlation_item : p::seq<keyword<kw_correlation_length>, p::must<equals>, p::must<expr>> {};
struct filter_item : p::seq<keyword<kw_filter>, p::must<expect_lparen>, p::must<filter_variable>,
                            ws, p::must<expect_rparen>, p::must<equals>, p::must<expr>> {};
struct noise_item : p::sor<correlation_item, filter_item> {};
struct noise_decl
    : p::seq<keyword<kw_noise>, p::must<noise_item>, p::star<comma, p::must<noise_item>>> {};

struct dirichlet_kind : p::seq<keyword<kw_dirichlet>, p::must<expr>> {};
struct boundary_kind : p::sor<keyword<kw_neumann>, keyword<kw_periodic>, dirichlet_kind> {};
struct boundary_decl : p::seq<keyword<kw_boundary>, p::must<boundary_kind>> {};

struct time_key : p::sor<keyword<kw_t0>, keyword<kw_dt>, keyword<kw_T>, keyword<kw_taming>> {};
struct taming_off : keyword<kw_off> {};
struct time_value : p::sor<taming_off, expr> {};
struct time_item : p::seq<time_key, p::must<equals>, p::must<time_value>> {};
struct time_decl
    : p::seq<keyword<kw_time>, p::must<time_item>, p::star<comma, p::must<time_item>>> {};

struct option_word : p::identifier {};
struct option_value : token<option_word> {};
struct semantics_value : option_value {};
struct channels_value : option_value {};
struct scheme_value : option_value {};
struct gradient_value : option_value {};
struct semantics_decl : p::seq<keyword<kw_semantics>, p::must<semantics_value>> {};
struct channels_decl : p::seq<keyword<kw_channels>, p::must<channels_value>> {};
struct scheme_decl : p::seq<keyword<kw_scheme>, p::must<scheme_value>> {};
struct gradient_decl : p::seq<keyword<kw_gradient>, p::must<gradient_value>> {};

struct statement_body : p::sor<process_decl, param_decl, schedule_decl, drift_decl, diffusion_decl,
                               noise_decl, boundary_decl, time_decl, semantics_decl, channels_decl,
                               scheme_decl, gradient_decl, function_decl, p::failure> {
};  // failure: so function_decl rewinds
/// One statement, committed: anything else here is E001.
struct statement : p::must<statement_body> {};

/// Leading whitespace and comments before a statement or the end of file.
struct gap : ws {};

}  // namespace spdec::lang::grammar
