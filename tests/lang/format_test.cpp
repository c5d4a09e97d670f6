// The canonical formatter (lang/format.cpp): exact output for small inputs,
// idempotence and round-trip over the library and the good corpus, and a
// randomised round-trip of expression trees.
#include "lang/format.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lang/ast.hpp"
#include "lang/diagnostics.hpp"
#include "lang/parser.hpp"
#include "lang/source.hpp"

namespace {

namespace fs = std::filesystem;
namespace ast = spdec::lang::ast;
using spdec::lang::Diagnostics;

std::optional<ast::Module> parse_text(const std::string& text) {
  Diagnostics diagnostics;
  auto file = std::make_shared<const spdec::lang::SourceFile>("test.spde", text);
  return spdec::lang::parse(file, diagnostics);
}

/// Formats source text that must parse.
std::string fmt(const std::string& text) {
  const auto module = parse_text(text);
  REQUIRE(module);
  return spdec::lang::format(*module);
}

/// The canonical text of one expression, via `param p = EXPR`.
std::string fmt_expr(const std::string& expr) {
  const std::string out = fmt("param p = " + expr);
  REQUIRE(out.rfind("param p = ", 0) == 0);
  REQUIRE(out.back() == '\n');
  return out.substr(10, out.size() - 11);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<fs::path> spde_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".spde") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

/// Every comment as fmt writes it, sorted: formatting may move a comment
/// (out of a statement) but never lose or change one.
std::vector<std::string> comment_texts(const ast::Module& module) {
  std::vector<std::string> texts;
  for (const ast::Comment& c : module.comments) {
    texts.push_back(spdec::lang::format_comment(c.text));
  }
  std::sort(texts.begin(), texts.end());
  return texts;
}

void require_canonical_round_trip(const std::string& text) {
  const auto original = parse_text(text);
  REQUIRE(original);
  const std::string once = spdec::lang::format(*original);
  const auto reparsed = parse_text(once);
  REQUIRE(reparsed);
  CHECK(ast::same_structure(*reparsed, *original));
  CHECK(comment_texts(*reparsed) == comment_texts(*original));
  CHECK(spdec::lang::format(*reparsed) == once);
}

}  // namespace

// --- files --------------------------------------------------------------------------

TEST_CASE("fmt is idempotent and round-trips on the library and the good corpus", "[format]") {
  const fs::path root = SPDEC_SOURCE_DIR;
  std::vector<fs::path> files = spde_files(root / "library");
  const std::vector<fs::path> good = spde_files(root / "tests/lang/corpus/good");
  files.insert(files.end(), good.begin(), good.end());
  REQUIRE(files.size() >= 10);
  for (const fs::path& path : files) {
    INFO(path.string());
    require_canonical_round_trip(read_file(path));
  }
}

TEST_CASE("fmt round-trips every other corpus file that parses", "[format]") {
  const fs::path root = SPDEC_SOURCE_DIR;
  for (const char* dir : {"tests/lang/corpus/bad", "tests/lang/corpus/regressions"}) {
    if (!fs::exists(root / dir)) {
      continue;
    }
    for (const fs::path& path : spde_files(root / dir)) {
      INFO(path.string());
      const std::string text = read_file(path);
      if (parse_text(text)) {
        require_canonical_round_trip(text);
      }
    }
  }
}

/// The file with a comment and a line break at every space of its code lines,
/// i.e. between (almost) every two tokens.
std::string comments_everywhere(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.find('#') == std::string::npos) {
      std::string spread;
      for (const char c : line) {
        spread += c == ' ' ? " # c" + std::to_string(n++) + "\n  " : std::string(1, c);
      }
      line = spread;
    }
    out += line + "\n";
  }
  return out;
}

TEST_CASE("fmt keeps comments between any two tokens", "[format]") {
  const fs::path root = SPDEC_SOURCE_DIR;
  for (const fs::path& path : spde_files(root / "library")) {
    INFO(path.string());
    const std::string original = read_file(path);
    const std::string spread = comments_everywhere(original);
    require_canonical_round_trip(spread);
    // The statements read the same as in the untouched file.
    const auto a = parse_text(original);
    const auto b = parse_text(spread);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(ast::same_structure(*a, *b));
  }
}

// --- expressions --------------------------------------------------------------------

TEST_CASE("fmt spaces operators, calls and unary operators", "[format]") {
  CHECK(fmt_expr("a+b*c") == "a + b * c");
  CHECK(fmt_expr("f( a ,b )") == "f(a, b)");
  CHECK(fmt_expr("a ^ 2") == "a^2");
  CHECK(fmt_expr("- x") == "-x");
  CHECK(fmt_expr("! c") == "!c");
  CHECK(fmt_expr("+ x") == "+x");
  CHECK(fmt_expr("- - x") == "--x");
  CHECK(fmt_expr("a<=b&&c!=d||e>=f") == "a <= b && c != d || e >= f");
  CHECK(fmt_expr("a - -b") == "a - -b");
}

TEST_CASE("fmt keeps numbers as written", "[format]") {
  CHECK(fmt_expr("1e-3") == "1e-3");
  CHECK(fmt_expr("0x1.8p3 + 1'000 + .5 + 2. + 017 + 1.5E+2f") ==
        "0x1.8p3 + 1'000 + .5 + 2. + 017 + 1.5E+2f");
  CHECK(fmt_expr("inf * pi") == "inf * pi");
}

TEST_CASE("fmt writes the parentheses precedence needs, and no others", "[format]") {
  // unary and `^`
  CHECK(fmt_expr("-x^2") == "-x^2");
  CHECK(fmt_expr("-(x^2)") == "-x^2");
  CHECK(fmt_expr("(-x)^2") == "(-x)^2");
  CHECK(fmt_expr("2^-1") == "2^-1");
  CHECK(fmt_expr("2^(-1)") == "2^-1");
  CHECK(fmt_expr("x^-y^2") == "x^-y^2");
  CHECK(fmt_expr("(1 + kappa)^(-gamma / 2)") == "(1 + kappa)^(-gamma / 2)");
  CHECK(fmt_expr("((a)) ^ ((b))") == "a^b");
  // `^` is right-associative
  CHECK(fmt_expr("a^(b^c)") == "a^b^c");
  CHECK(fmt_expr("(a^b)^c") == "(a^b)^c");
  CHECK(fmt_expr("f(x)^2") == "f(x)^2");
  // left-associative operators
  CHECK(fmt_expr("(a - b) - c") == "a - b - c");
  CHECK(fmt_expr("a - (b - c)") == "a - (b - c)");
  CHECK(fmt_expr("a - (b + c)") == "a - (b + c)");
  CHECK(fmt_expr("a + (b - c)") == "a + (b - c)");
  CHECK(fmt_expr("a / (b * c)") == "a / (b * c)");
  CHECK(fmt_expr("(a / b) * c") == "a / b * c");
  CHECK(fmt_expr("(a * b) + (c * d)") == "a * b + c * d");
  CHECK(fmt_expr("(a + b) * (c - d)") == "(a + b) * (c - d)");
  // unary operands
  CHECK(fmt_expr("-(a * b)") == "-(a * b)");
  CHECK(fmt_expr("(-a) * b") == "-a * b");
  CHECK(fmt_expr("a * (-b)") == "a * -b");
  CHECK(fmt_expr("!(a && b)") == "!(a && b)");
  CHECK(fmt_expr("-(-(x))") == "--x");
  // comparisons do not chain
  CHECK(fmt_expr("(a < b) == c") == "(a < b) == c");
  CHECK(fmt_expr("a == (b < c)") == "a == (b < c)");
  CHECK(fmt_expr("(a + b) < (c * d)") == "a + b < c * d");
  // logic
  CHECK(fmt_expr("a || (b && c)") == "a || b && c");
  CHECK(fmt_expr("(a || b) && c") == "(a || b) && c");
  CHECK(fmt_expr("a || (b || c)") == "a || (b || c)");
  CHECK(fmt_expr("(a < b) && (c < d)") == "a < b && c < d");
  // arguments are whole expressions
  CHECK(fmt_expr("select((a < b), (1 + 2), (3))") == "select(a < b, 1 + 2, 3)");
}

TEST_CASE("fmt handles a very long operator chain without deep recursion", "[format]") {
  // The parser caps trees at 1000 levels of operators; a chain just below
  // that is a left spine the formatter walks in a loop.
  std::string chain = "1";
  for (int i = 0; i < 900; ++i) {
    chain += " + 1";
  }
  CHECK(fmt_expr(chain) == chain);
}

// --- statements ---------------------------------------------------------------------

TEST_CASE("fmt writes each statement kind canonically", "[format]") {
  const std::string in =
      "process   p\n"
      "param a=1\n"
      "\n"
      "schedule s( t )=a*t\n"
      "schedule g(t)=learnable knots ( 32 ) init geometric(1,2,t)\n"
      "\n"
      "f(x)=1\n"
      "h(t,x)=x\n"
      "\n"
      "drift=-u diffusion=1\n"
      "noise filter(kappa)=1/(1+kappa),correlation_length=0\n"
      "boundary dirichlet 0.5\n"
      "time dt=1e-3,T=2,taming=off\n"
      "semantics decoupled\n"
      "channels coupled\n"
      "scheme face_mean\n"
      "gradient central\n";
  const std::string out =
      "process p\n"
      "param a = 1\n"
      "\n"
      "schedule s(t) = a * t\n"
      "schedule g(t) = learnable knots(32) init geometric(1, 2, t)\n"
      "\n"
      "f(x)    = 1\n"
      "h(t, x) = x\n"
      "\n"
      "drift     = -u\n"
      "diffusion = 1\n"
      "noise     filter(kappa) = 1 / (1 + kappa), correlation_length = 0\n"
      "boundary  dirichlet 0.5\n"
      "time      dt = 1e-3, T = 2, taming = off\n"
      "semantics decoupled\n"
      "channels  coupled\n"
      "scheme    face_mean\n"
      "gradient  central\n";
  CHECK(fmt(in) == out);
  require_canonical_round_trip(in);
}

TEST_CASE("fmt aligns runs of params, schedules, functions, equations and options", "[format]") {
  const std::string in =
      "process perona_malik\n"
      "\n"
      "param T = 2\n"
      "param size = 32\n"
      "param lambda_min = 0.025\n"
      "\n"
      "schedule alpha1(t) = geometric(0.5, 2 * size, t / T)\n"
      "schedule lambda1(t) = lambda_min\n"
      "\n"
      "g1(t, x) = 1\n"
      "g2(t) = 2\n"
      "\n"
      "drift = 0\n"
      "diffusion = 1\n"
      "\n"
      "noise correlation_length = 0\n"
      "boundary neumann\n"
      "time T = T, t0 = 1e-3, dt = 1e-3, taming = 1\n";
  const std::string out =
      "process perona_malik\n"
      "\n"
      "param T          = 2\n"
      "param size       = 32\n"
      "param lambda_min = 0.025\n"
      "\n"
      "schedule alpha1(t)  = geometric(0.5, 2 * size, t / T)\n"
      "schedule lambda1(t) = lambda_min\n"
      "\n"
      "g1(t, x) = 1\n"
      "g2(t)    = 2\n"
      "\n"
      "drift     = 0\n"
      "diffusion = 1\n"
      "\n"
      "noise    correlation_length = 0\n"
      "boundary neumann\n"
      "time     T = T, t0 = 1e-3, dt = 1e-3, taming = 1\n";
  CHECK(fmt(in) == out);
  CHECK(fmt(out) == out);
}

TEST_CASE("fmt ends alignment runs at blank lines, comments and other kinds", "[format]") {
  CHECK(fmt("param a = 1\nparam bbb = 2\n\nparam cc = 3\n") ==
        "param a   = 1\nparam bbb = 2\n\nparam cc = 3\n");
  CHECK(fmt("param a = 1\n# note\nparam bbb = 2\n") == "param a = 1\n# note\nparam bbb = 2\n");
  CHECK(fmt("param a = 1\nschedule s(t) = t\nparam bbb = 2\n") ==
        "param a = 1\nschedule s(t) = t\nparam bbb = 2\n");
  // a comment moved out of a statement is a comment line: it ends the run
  CHECK(fmt("param a = # why\n 1\nparam bbb = 2\n") == "param a = 1\n# why\nparam bbb = 2\n");
}

// --- blank lines and comments -------------------------------------------------------

TEST_CASE("fmt collapses blank lines and trims the ends of the file", "[format]") {
  CHECK(fmt("\n\n  \nprocess p\n\n\n\nparam a = 1\n\t\n\n") == "process p\n\nparam a = 1\n");
  CHECK(fmt("process p param a = 1") == "process p\nparam a = 1\n");
  CHECK(fmt("process p\r\n\r\nparam a = 1\r\n") == "process p\n\nparam a = 1\n");
  CHECK(fmt("") == "");
  CHECK(fmt("\n \n") == "");
}

TEST_CASE("fmt keeps own-line comments where they are", "[format]") {
  CHECK(fmt("# head\n\n\n# more\nprocess p\n  # indented\nparam a = 1\n\n# end\n\n") ==
        "# head\n\n# more\nprocess p\n# indented\nparam a = 1\n\n# end\n");
  CHECK(fmt("# only a comment") == "# only a comment\n");
}

TEST_CASE("fmt writes comments with `#` and one space", "[format]") {
  CHECK(fmt("// slashes\n#hash\n#\n//\n#   indented\n## section\n#####\n") ==
        "# slashes\n# hash\n#\n#\n#   indented\n## section\n#####\n");
  CHECK(spdec::lang::format_comment("x") == "# x");
  CHECK(spdec::lang::format_comment(" x") == "# x");
  CHECK(spdec::lang::format_comment("") == "#");
}

TEST_CASE("fmt keeps trailing comments two spaces after the code", "[format]") {
  CHECK(fmt("process p # name\nparam a = 1// one\n") == "process p  # name\nparam a = 1  # one\n");
  // aligned in a run of aligned lines
  CHECK(fmt("param a = 1 # one\nparam bbb = 22 # two\nparam cc = 3\n") ==
        "param a   = 1   # one\n"
        "param bbb = 22  # two\n"
        "param cc  = 3\n");
}

TEST_CASE("fmt moves comments inside a statement after it", "[format]") {
  const std::string in =
      "drift = -a * # inside\n"
      "  (b # more\n"
      "   + c)  # trailing\n"
      "diffusion = 1\n";
  const std::string out =
      "drift = -a * (b + c)  # trailing\n"
      "# inside\n"
      "# more\n"
      "diffusion = 1\n";
  CHECK(fmt(in) == out);
  CHECK(fmt(out) == out);
  require_canonical_round_trip(in);
  CHECK(fmt("time T = 1, # and here\n  dt = 1e-3\n\n# last") ==
        "time T = 1, dt = 1e-3\n# and here\n\n# last\n");
}

TEST_CASE("fmt formats a tree built by hand (no source) without blank lines", "[format]") {
  ast::Module module;
  ast::Statement process;
  process.node = ast::ProcessDecl{{"p", {}}};
  module.statements.push_back(std::move(process));
  ast::Statement param;
  auto value = std::make_unique<ast::Expr>();
  value->node = ast::Number{"2", 2};
  param.node = ast::ParamDecl{{"a", {}}, std::move(value)};
  module.statements.push_back(std::move(param));
  CHECK(spdec::lang::format(module) == "process p\nparam a = 2\n");
}

// --- randomised round trip ----------------------------------------------------------

namespace {

class ExprGenerator {
 public:
  explicit ExprGenerator(std::uint32_t seed) : random_(seed) {}

  ast::ExprPtr generate(int depth) {
    auto e = std::make_unique<ast::Expr>();
    const std::size_t kind = depth <= 0 ? pick(2) : pick(8);
    if (kind == 0) {
      static const std::vector<std::pair<std::string, double>> numbers = {
          {"0", 0}, {"1", 1}, {"2.5", 2.5}, {"1e-3", 1e-3}, {"0x1F", 31}, {".5", 0.5}};
      const auto& [text, value] = numbers[pick(numbers.size())];
      e->node = ast::Number{text, value};
    } else if (kind == 1) {
      static const std::vector<std::string> names = {"a", "b", "x", "u", "t", "pi", "inf"};
      e->node = ast::NameRef{names[pick(names.size())]};
    } else if (kind == 2) {
      ast::Call call{{pick(2) == 0 ? "f" : "max", {}}, {}};
      const std::size_t arity = 1 + pick(3);  // `f()` is not valid syntax
      for (std::size_t i = 0; i < arity; ++i) {
        call.args.push_back(generate(depth - 1));
      }
      e->node = std::move(call);
    } else if (kind == 3) {
      static const ast::UnaryOp ops[] = {ast::UnaryOp::negate, ast::UnaryOp::plus,
                                         ast::UnaryOp::logical_not};
      e->node = ast::Unary{ops[pick(3)], generate(depth - 1)};
    } else {
      const auto op = static_cast<ast::BinaryOp>(pick(13));
      e->node = ast::Binary{op, generate(depth - 1), generate(depth - 1)};
    }
    return e;
  }

 private:
  std::mt19937 random_;

  std::size_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random_);
  }
};

}  // namespace

TEST_CASE("fmt round-trips random expression trees", "[format]") {
  ExprGenerator generator(20240611);
  for (int i = 0; i < 2000; ++i) {
    ast::Module expected;
    ast::Statement statement;
    statement.node = ast::ParamDecl{{"p", {}}, generator.generate(1 + i % 6)};
    expected.statements.push_back(std::move(statement));
    const std::string text = spdec::lang::format(expected);
    INFO(text);
    const auto parsed = parse_text(text);
    REQUIRE(parsed);
    REQUIRE(ast::same_structure(*parsed, expected));
    REQUIRE(spdec::lang::format(*parsed) == text);
  }
}
