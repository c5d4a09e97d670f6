#include "runtime/config/run_config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <system_error>
#include <type_traits>

#include "lang/atomic_write.hpp"
#include "lang/check.hpp"
#include "lang/classify.hpp"
#include "lang/os_reason.hpp"
#include "spdec/build_info.hpp"

namespace spdec::config {
namespace {

namespace fs = std::filesystem;
using lang::Diagnostics;
using lang::SourceFile;
using lang::SourcePtr;
using lang::Span;

// --- Error codes (documented in specs/RUN_CONFIG.md) --------------------------------
constexpr const char* kSyntax = "C001";        // not TOML
constexpr const char* kUnknownKey = "C002";    // a key the schema does not have
constexpr const char* kWrongType = "C003";     // a value of the wrong type
constexpr const char* kBadValue = "C004";      // out of range, not one of the choices
constexpr const char* kBadOverride = "C005";   // not section.key=value
constexpr const char* kNoProcess = "C006";     // process.file missing or not found
constexpr const char* kUnknownParam = "C007";  // process.params names no param
constexpr const char* kUnreadable = "C008";    // the TOML file cannot be read
constexpr const char* kInconsistent = "C009";  // two keys disagree

constexpr std::int64_t kMaxTrainSteps = (std::int64_t{1} << 43) - 1;

/// "auto" and then `names`: a key whose automatic choice the training plan makes.
std::vector<std::string> with_auto(std::vector<std::string> names) {
  names.insert(names.begin(), "auto");
  return names;
}

/// The choices of each enumerated key: its table's spellings (choices.hpp;
/// train.objective and model.parameterisation: lang/training_plan.hpp).
const std::map<std::string, std::vector<std::string>>& choices() {
  static const std::map<std::string, std::vector<std::string>> table{
      {"run.device", kDevices.names()},
      {"process.semantics", kSemanticsChoices.names()},
      {"process.backend", kBackends.names()},
      {"process.flow", kFlows.names()},
      {"data.dataset", kDatasets.names()},
      {"data.split", kSplits.names()},
      {"data.range", kValueRanges.names()},
      {"model.embedding", kTimeEmbeddings.names()},
      {"model.time_input", kTimeInputs.names()},
      {"train.objective", with_auto(lang::kObjectiveKinds.names())},
      {"train.time_sampling", kTimeSamplings.names()},
      {"train.projections", kProjections.names()},
      {"train.prior", kPriorChoices.names()},
      {"train.weighting", kLossWeightings.names()},
      {"model.parameterisation", with_auto(lang::kParameterisations.names())},
      {"model.preconditioning", kPreconditionings.names()},
      {"sample.sampler", kSamplers.names()},
      {"sample.integrator", kIntegrators.names()},
      {"sample.grid", kGridChoices.names()},
      {"sample.prior", kSamplePriors.names()},
      {"eval.split", kSplits.names()},
      {"train.distributed.backend", kDistributedBackends.names()},
  };
  return table;
}

/// "did you mean": lang::edit_distance (a swap is one edit), a little more
/// tolerant than the language's: two edits for any word over three letters.
std::string suggest(std::string_view word, const std::vector<std::string>& candidates) {
  const std::size_t limit = word.size() <= 3 ? 1 : std::max<std::size_t>(2, word.size() / 3);
  std::string best;
  std::size_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    const std::size_t distance = lang::edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string join_quoted(const std::vector<std::string>& words, const char* quote = "\"") {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ");
    out += quote + words[i] + quote;
  }
  return out;
}

/// parent.name, or name at the top level.
std::string dotted(const std::string& parent, const std::string& name) {
  if (parent.empty()) return name;
  std::string path = parent;
  path += '.';
  path += name;
  return path;
}

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string format_double(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  std::array<char, 64> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  std::string text(buffer.data(), result.ptr);
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

/// A number as a person reads it in a message.
std::string readable(double value) {
  std::ostringstream out;
  out.precision(15);
  out << value;
  return out.str();
}

std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          std::array<char, 8> hex{};
          const auto r = std::to_chars(hex.data(), hex.data() + hex.size(), byte, 16);
          out += "\\u" + std::string(4 - static_cast<std::size_t>(r.ptr - hex.data()), '0') +
                 std::string(hex.data(), r.ptr);
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

/// The first directory that holds the library of built-in processes.
std::vector<fs::path> default_library_dirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("SPDEC_LIBRARY_DIR"); env != nullptr && *env != '\0') {
    dirs.emplace_back(env);
  }
  dirs.emplace_back(fs::path(SPDEC_SOURCE_DIR_AT_BUILD) / "library");
  return dirs;
}

fs::path absolute_normal(const fs::path& path, const fs::path& base) {
  const fs::path joined = path.is_absolute() ? path : base / path;
  return fs::absolute(joined).lexically_normal();
}

// --- The layered reader ---------------------------------------------------------------

/// One source of values: the file, then each override in order (later wins).
struct Layer {
  toml::table root;
  SourcePtr source;
  fs::path base_dir;  ///< relative paths resolve here
  bool is_override = false;
  std::string raw_value;  ///< an override's text after `=`, for string keys
  std::string key;        ///< an override's dotted key
};

struct Found {
  const toml::node* node = nullptr;
  const Layer* layer = nullptr;
  explicit operator bool() const { return node != nullptr; }
};

class Reader {
 public:
  Reader(std::vector<Layer>& layers, Diagnostics& diagnostics)
      : layers_(layers), diagnostics_(diagnostics) {}

  /// The value at a dotted path, from the last layer that has it; registers
  /// the path as known.
  Found find(const std::string& path) {
    known_.insert(path);
    Found found;
    for (const Layer& layer : layers_) {
      if (const toml::node* node = layer.root.at_path(path).node(); node != nullptr) {
        found = {node, &layer};
      }
    }
    return found;
  }

  static Span span_of(const Layer& layer, const toml::source_region& region) {
    const SourceFile& file = *layer.source;
    auto offset = [&](const toml::source_position& pos) -> std::size_t {
      if (pos.line == 0 || pos.line > file.line_count()) return file.text().size();
      const std::size_t start = file.line_start(pos.line);
      const std::size_t length = file.line_text(pos.line).size();
      return start + std::min<std::size_t>(pos.column == 0 ? 0 : pos.column - 1, length);
    };
    const std::size_t begin = offset(region.begin);
    std::size_t end = region.end.line == region.begin.line ? offset(region.end) : begin;
    const std::size_t line_end =
        region.begin.line >= 1 && region.begin.line <= file.line_count()
            ? file.line_start(region.begin.line) + file.line_text(region.begin.line).size()
            : file.text().size();
    end = std::min(std::max(end, begin + 1), std::max(line_end, begin + 1));
    end = std::min(end, std::max(file.text().size(), begin));
    return {static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(std::max(begin, end))};
  }

  void error_at(const Found& at, const char* code, std::string message, std::string hint = {}) {
    diagnostics_.error(code, at.layer->source, span_of(*at.layer, at.node->source()),
                       std::move(message), std::move(hint));
  }

  void error_at_key(const Layer& layer, const toml::key& key, const char* code, std::string message,
                    std::string hint = {}) {
    Span span = span_of(layer, key.source());
    // A bare key: the caret under all of it.
    const std::string_view name = key.str();
    if (layer.source->text().compare(span.begin, name.size(), name) == 0) {
      span.end = span.begin + static_cast<std::uint32_t>(name.size());
    }
    diagnostics_.error(code, layer.source, span, std::move(message), std::move(hint));
  }

  /// An error about the file as a whole (a required key that is missing).
  void error_in_file(const char* code, std::string message, std::string hint = {}) {
    const Layer& file = layers_.front();
    diagnostics_.error(code, file.source, {0, file.source->text().empty() ? 0U : 1U},
                       std::move(message), std::move(hint));
  }

  void type_error(const Found& at, const std::string& path, const char* wanted) {
    error_at(at, kWrongType, "`" + path + "` must be " + wanted + ", got " + type_name(*at.node));
  }

  // --- Typed getters: leave `out` as it is when the key is absent or wrong ----------
  Found get(const std::string& path, bool& out) {
    const Found f = find(path);
    if (!f) return f;
    if (const auto v = f.node->value_exact<bool>()) {
      out = *v;
    } else {
      type_error(f, path, "a boolean (true or false)");
    }
    return f;
  }

  Found get(const std::string& path, std::int64_t& out, std::int64_t min, const char* range_text,
            std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
    const Found f = find(path);
    if (!f) return f;
    if (const auto v = f.node->value_exact<std::int64_t>()) {
      if (*v < min || *v > max) {
        error_at(f, kBadValue,
                 "`" + path + "` must be " + range_text + ", got " + std::to_string(*v));
      } else {
        out = *v;
      }
    } else {
      type_error(f, path, "an integer");
    }
    return f;
  }

  template <typename Int>
  Found get_int(const std::string& path, Int& out, std::int64_t min, const char* range_text) {
    auto wide = static_cast<std::int64_t>(out);
    const Found f = get(path, wide, min, range_text);
    if (f && wide > static_cast<std::int64_t>(std::numeric_limits<int>::max()) &&
        sizeof(Int) < sizeof(std::int64_t)) {
      error_at(f, kBadValue, "`" + path + "` is too large, got " + std::to_string(wide));
      return f;
    }
    out = static_cast<Int>(wide);
    return f;
  }

  /// A number (integer or float) with a lower bound, inclusive or not.
  Found get(const std::string& path, double& out, double min, bool min_inclusive,
            const char* range_text, double max = std::numeric_limits<double>::infinity(),
            bool max_inclusive = true) {
    const Found f = find(path);
    if (!f) return f;
    std::optional<double> value;
    if (const auto i = f.node->value_exact<std::int64_t>()) value = static_cast<double>(*i);
    if (const auto d = f.node->value_exact<double>()) value = *d;
    if (!value) {
      type_error(f, path, "a number");
      return f;
    }
    const bool below = min_inclusive ? *value < min : *value <= min;
    const bool above = max_inclusive ? *value > max : *value >= max;
    if (!std::isfinite(*value)) {
      error_at(f, kBadValue, "`" + path + "` must be a finite number, got " + readable(*value));
    } else if (below || above) {
      error_at(f, kBadValue, "`" + path + "` must be " + range_text + ", got " + readable(*value));
    } else {
      out = *value;
    }
    return f;
  }

  Found get(const std::string& path, std::string& out) {
    const Found f = find(path);
    if (!f) return f;
    if (const auto v = f.node->value_exact<std::string>()) {
      out = *v;
    } else if (f.layer->is_override && f.layer->key == path) {
      // `run.name=123` on a command line means the text, whatever TOML makes of it.
      out = f.layer->raw_value;
    } else {
      type_error(f, path, "a string");
    }
    return f;
  }

  /// An enumerated key with "auto" (nullopt: the training plan decides),
  /// parsed once through its table.
  template <typename Enum, std::size_t N>
  Found get_choice(const std::string& path, const lang::EnumTable<Enum, N>& table,
                   std::optional<Enum>& out) {
    std::string value = out ? table.name(*out) : "auto";
    const Found f = get(path, value);
    if (!f) return f;
    if (value == "auto") {
      out.reset();
    } else if (const std::optional<Enum> parsed = table.parse(value)) {
      out = *parsed;
    } else {
      bad_choice(f, path, choices().at(path), value);
    }
    return f;
  }

  /// An enumerated key, parsed once through its table.
  template <typename Enum, std::size_t N>
  Found get_choice(const std::string& path, const ChoiceTable<Enum, N>& table, Enum& out) {
    std::string value = table.name(out);
    const Found f = get(path, value);
    if (!f) return f;
    if (const std::optional<Enum> parsed = table.parse(value)) {
      out = *parsed;
    } else {
      bad_choice(f, path, table.names(), value);
    }
    return f;
  }

  /// "`key` must be one of "a", "b" or "c", got "x"", with a "did you mean".
  void bad_choice(const Found& f, const std::string& path, const std::vector<std::string>& valid,
                  const std::string& value) {
    const std::string close = suggest(value, valid);
    error_at(f, kBadValue,
             "`" + path + "` must be one of " + join_quoted(valid) + ", got \"" + value + "\"",
             close.empty() ? std::string{} : "did you mean \"" + close + "\"?");
  }

  /// An array of T; `element` reads one element (returns false on a wrong one).
  template <typename T>
  Found get_array(const std::string& path, std::vector<T>& out, const char* wanted,
                  const std::function<std::optional<T>(const toml::node&)>& element) {
    const Found f = find(path);
    if (!f) return f;
    const toml::array* array = f.node->as_array();
    if (array == nullptr) {
      type_error(f, path, wanted);
      return f;
    }
    std::vector<T> values;
    for (const toml::node& item : *array) {
      const auto v = element(item);
      if (!v) {
        error_at({&item, f.layer}, kWrongType,
                 "`" + path + "` must be " + wanted + ", this element is " + type_name(item));
        return f;
      }
      values.push_back(*v);
    }
    out = std::move(values);
    return f;
  }

  /// Marks a table whose keys are free (process.params).
  void open_table(const std::string& path) { open_.insert(path); }

  /// Reports every key of every layer that no getter asked for.
  void report_unknown() {
    for (const Layer& layer : layers_) walk(layer, layer.root, "");
  }

 private:
  [[nodiscard]] bool is_section(const std::string& path) const {
    const std::string prefix = path + ".";
    const auto it = known_.lower_bound(prefix);
    return it != known_.end() && it->compare(0, prefix.size(), prefix) == 0;
  }

  [[nodiscard]] std::vector<std::string> children(const std::string& parent) const {
    std::set<std::string> names;
    const std::string prefix = parent.empty() ? "" : parent + ".";
    for (const std::string& path : known_) {
      if (path.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string rest = path.substr(prefix.size());
      names.insert(rest.substr(0, rest.find('.')));
    }
    return {names.begin(), names.end()};
  }

  void walk(const Layer& layer, const toml::table& table, const std::string& parent) {
    for (const auto& [key, node] : table) {
      const std::string name(key.str());
      const std::string path = dotted(parent, name);
      if (open_.contains(parent)) continue;  // checked by whoever opened it
      if (known_.contains(path)) continue;   // a getter read (and checked) it
      if (is_section(path)) {
        if (const toml::table* sub = node.as_table()) {
          walk(layer, *sub, path);
        } else {
          error_at({&node, &layer}, kWrongType,
                   "`" + path + "` must be a table, got " + type_name(node),
                   "write its keys as `[" + path + "]` or `" + dotted(path, "KEY = VALUE`"));
        }
        continue;
      }
      const std::vector<std::string> siblings = children(parent);
      const std::string close = suggest(name, siblings);
      const char* what = parent.empty() ? "section" : "key";
      std::string hint;
      if (!close.empty()) {
        hint = "did you mean `" + dotted(parent, close) + "`?";
      } else {
        hint = std::string("valid ") + (parent.empty() ? "sections" : "keys in [" + parent + "]") +
               ": " + join_quoted(siblings, "");
      }
      error_at_key(layer, key, kUnknownKey, std::string("unknown ") + what + " `" + path + "`",
                   hint);
    }
  }

  std::vector<Layer>& layers_;
  Diagnostics& diagnostics_;
  std::set<std::string> known_;
  std::set<std::string> open_;
};

// --- Parsing text into layers ------------------------------------------------------------

void report_parse_error(const toml::parse_error& error, const SourcePtr& source,
                        Diagnostics* diagnostics);

std::optional<toml::table> parse_toml(const std::string& text, const SourcePtr& source,
                                      const std::string& region_path, Diagnostics* diagnostics) {
#if TOML_EXCEPTIONS
  try {
    return toml::parse(text, region_path);
  } catch (const toml::parse_error& error) {
    report_parse_error(error, source, diagnostics);
  }
#else
  toml::parse_result result = toml::parse(text, region_path);
  if (result) return std::move(result).table();
  report_parse_error(result.error(), source, diagnostics);
#endif
  return std::nullopt;
}

void report_parse_error(const toml::parse_error& error, const SourcePtr& source,
                        Diagnostics* diagnostics) {
  if (diagnostics != nullptr) {
    const auto& begin = error.source().begin;
    std::size_t offset = 0;
    if (begin.line >= 1 && begin.line <= source->line_count()) {
      offset = source->line_start(begin.line) +
               std::min<std::size_t>(begin.column == 0 ? 0 : begin.column - 1,
                                     source->line_text(begin.line).size());
    } else {
      offset = source->text().size();
    }
    const auto at = static_cast<std::uint32_t>(offset);
    diagnostics->error(kSyntax, source, {at, at + 1}, std::string(error.description()));
  }
}

bool valid_dotted_key(std::string_view key) {
  if (key.empty() || key.front() == '.' || key.back() == '.') return false;
  char previous = '\0';
  for (const char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok || (c == '.' && previous == '.')) return false;
    previous = c;
  }
  return true;
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return std::string(text.substr(first, last - first + 1));
}

/// `section.key=value`: a TOML line itself, or, when the value is not TOML,
/// the value as a string (`sample.sampler=ode`, `run.dir=/tmp/x`).
std::optional<Layer> parse_override(const std::string& item, std::size_t index,
                                    Diagnostics& diagnostics) {
  auto source = std::make_shared<const SourceFile>("<command line>", item);
  const auto eq = item.find('=');
  const std::string key = trim(std::string_view(item).substr(0, std::min(eq, item.size())));
  if (eq == std::string::npos || !valid_dotted_key(key) || key.find('.') == std::string::npos) {
    // `K=0.1`, the way `spdec check -p` takes a parameter: say where it goes.
    const bool bare_name =
        eq != std::string::npos && valid_dotted_key(key) && key.find('.') == std::string::npos;
    const std::string value =
        eq == std::string::npos ? std::string{} : trim(std::string_view(item).substr(eq + 1));
    diagnostics.error(
        kBadOverride, source, {0, static_cast<std::uint32_t>(item.size())},
        "expected an override `section.key=value`",
        bare_name ? "a process parameter is process.params." + key + "=" + value +
                        " (or, with spdec run, -p " + key + "=" + value +
                        "); other keys are section.key=value, e.g. train.steps=100"
                  : "for example train.steps=100, run.dir=/tmp/run or process.params.size=32");
    return std::nullopt;
  }
  const std::string region = "<override " + std::to_string(index) + ">";
  const std::string raw = trim(std::string_view(item).substr(eq + 1));
  std::optional<toml::table> table = parse_toml(item, source, region, nullptr);
  if (!table) {
    // Not a TOML value: take the text as a string (a literal string when it can be).
    const bool literal = raw.find_first_of("'\n\r") == std::string::npos;
    const std::string quoted = literal ? "'" + raw + "'" : toml_string(raw);
    table = parse_toml(key + "=" + quoted, source, region, &diagnostics);
    if (!table) return std::nullopt;
  }
  Layer layer{std::move(*table), source, fs::current_path(), true, raw, key};
  return layer;
}

// --- Resolving ----------------------------------------------------------------------------

fs::path base_of(const Found& found, const fs::path& fallback) {
  return found ? found.layer->base_dir : fallback;
}

std::string default_data_path(Dataset dataset) {
  if (dataset == Dataset::fashion_mnist) return "/usr/share/datasets/fashion-mnist";
  return {};
}

void read_run(Reader& r, RunConfig& c, const fs::path& toml_dir, const std::string& stem) {
  // [run]
  c.run.name = stem;
  r.get("run.name", c.run.name);
  const Found run_dir = r.get("run.dir", c.run.dir);
  r.get_choice("run.device", kDevices, c.run.device);
  r.get_int("run.threads", c.run.threads, 0, "0 (all) or more");
  if (c.run.dir.empty()) {
    c.run.dir = absolute_normal(fs::path("runs") / c.run.name, fs::current_path()).string();
  } else {
    c.run.dir = absolute_normal(c.run.dir, base_of(run_dir, toml_dir)).string();
  }
}

void read_process_keys(Reader& r, RunConfig& c) {
  // [process]: file resolved later (it searches the library).
  r.get("process.file", c.process.file);
  r.open_table("process.params");
  r.find("process.params");
  r.get_choice("process.semantics", kSemanticsChoices, c.process.semantics);
  r.get_choice("process.backend", kBackends, c.process.backend);
  r.get_choice("process.flow", kFlows, c.process.flow);
  r.get_int("process.fed_cycles", c.process.fed_cycles, 1, "positive");
}

void read_data(Reader& r, RunConfig& c, const fs::path& toml_dir) {
  // [data]
  r.get_choice("data.dataset", kDatasets, c.data.dataset);
  const Found data_path = r.get("data.path", c.data.path);
  if (c.data.path.empty()) c.data.path = default_data_path(c.data.dataset);
  if (c.data.path.empty()) {
    const Found dataset = r.find("data.dataset");
    r.error_at(dataset, kBadValue,
               "`data.path` is required for dataset \"" + std::string(name(c.data.dataset)) + "\"",
               "the folder (or file) that holds the data, relative to this file");
  }
  if (!c.data.path.empty()) {
    c.data.path = absolute_normal(c.data.path, base_of(data_path, toml_dir)).string();
  }
  r.get_choice("data.split", kSplits, c.data.split);
  r.get_int("data.channels", c.data.channels, 0, "0 (as stored) or more");
  r.get_int("data.size", c.data.size, 1, "positive");
  r.get_choice("data.range", kValueRanges, c.data.range);
  r.get("data.flip", c.data.flip);
  r.get("data.n", c.data.n, 0, "0 (all) or more");
}

void read_forward(Reader& r, RunConfig& c, const fs::path& toml_dir) {
  // [forward]
  r.get_int("forward.images", c.forward.images, 1, "positive");
  {
    const Found times = r.find("forward.times");
    if (times && times.node->is_array()) {
      r.get_array<double>("forward.times", c.forward.time_list, "an array of numbers",
                          [](const toml::node& n) -> std::optional<double> {
                            if (const auto i = n.value_exact<std::int64_t>()) {
                              return static_cast<double>(*i);
                            }
                            return n.value_exact<double>();
                          });
      for (const double t : c.forward.time_list) {
        if (!(t >= 0)) {
          r.error_at(times, kBadValue, "`forward.times` must hold times >= 0");
          break;
        }
      }
      if (c.forward.time_list.empty()) {
        r.error_at(times, kBadValue, "`forward.times` must not be empty",
                   "give a count (times = 8) or a list of times");
      }
    } else if (times) {
      if (times.node->is_integer()) {
        r.get_int("forward.times", c.forward.times, 2, "at least 2 (or an array of times)");
      } else {
        r.type_error(times, "forward.times", "an integer count or an array of times");
      }
    }
  }
  {
    std::int64_t seed = 0;
    r.get("forward.seed", seed, 0, "0 or more");
    c.forward.seed = static_cast<std::uint64_t>(seed);
  }
  {
    const Found input =
        r.get_array<std::string>("forward.input", c.forward.input, "an array of file names",
                                 [](const toml::node& n) { return n.value_exact<std::string>(); });
    for (std::string& file : c.forward.input) {
      file = absolute_normal(file, base_of(input, toml_dir)).string();
    }
  }
  r.get("forward.png", c.forward.png);
  r.get("forward.npy", c.forward.npy);
  r.get("forward.json", c.forward.json);
}

void read_model(Reader& r, RunConfig& c) {
  // [model]
  auto positive_int = [](const toml::node& n) -> std::optional<int> {
    const auto v = n.value_exact<std::int64_t>();
    if (!v || *v <= 0 || *v > std::numeric_limits<int>::max()) return std::nullopt;
    return static_cast<int>(*v);
  };
  r.get_int("model.base_channels", c.model.base_channels, 1, "positive");
  {
    const Found f = r.get_array<int>("model.channel_mult", c.model.channel_mult,
                                     "an array of positive integers", positive_int);
    if (f && c.model.channel_mult.empty()) {
      r.error_at(f, kBadValue, "`model.channel_mult` must not be empty", "for example [1, 2, 2]");
    }
  }
  r.get_int("model.num_res_blocks", c.model.num_res_blocks, 1, "positive");
  r.get_array<int>("model.attention_resolutions", c.model.attention_resolutions,
                   "an array of positive integers", positive_int);
  r.get("model.dropout", c.model.dropout, 0, true, "in [0, 1)", 1, false);
  r.get_choice("model.embedding", kTimeEmbeddings, c.model.embedding);
  r.get("model.fourier_scale", c.model.fourier_scale, 0, false, "positive");
  r.get("model.class_conditional", c.model.class_conditional);
  r.get_int("model.num_classes", c.model.num_classes, 1, "positive");
  r.get("model.label_dropout", c.model.label_dropout, 0, true, "in [0, 1)", 1, false);
  r.get_choice("model.parameterisation", lang::kParameterisations, c.model.parameterisation);
  r.get_choice("model.preconditioning", kPreconditionings, c.model.preconditioning);
  r.get("model.sigma_data", c.model.sigma_data, 0, false, "positive");
  r.get_choice("model.time_input", kTimeInputs, c.model.time_input);
  // Relative to run.dir, not to this file: `spdec run autoencoder` writes
  // the run's own autoencoder there, like the run's other outputs.
  r.get("model.autoencoder", c.model.autoencoder);
  if (!c.model.autoencoder.empty()) {
    c.model.autoencoder = absolute_normal(c.model.autoencoder, c.run.dir).string();
  }
}

void read_autoencoder(Reader& r, RunConfig& c) {
  // [autoencoder]
  r.get_int("autoencoder.latent_channels", c.autoencoder.latent_channels, 1, "positive");
  {
    const Found f = r.get_int("autoencoder.factor", c.autoencoder.factor, 1, "a power of two");
    const int k = c.autoencoder.factor;
    if (f && (k & (k - 1)) != 0) {
      r.error_at(f, kBadValue,
                 "`autoencoder.factor` must be a power of two, got " + std::to_string(k),
                 "each downsampling halves the side: 1, 2, 4 or 8");
    }
  }
  r.get_int("autoencoder.channels", c.autoencoder.channels, 1, "positive");
  r.get("autoencoder.kl_weight", c.autoencoder.kl_weight, 0, true, "0 or more");
  r.get_int("autoencoder.scales", c.autoencoder.scales, 1, "positive");
  r.get("autoencoder.steps", c.autoencoder.steps, 1, "positive");
  r.get_int("autoencoder.batch_size", c.autoencoder.batch_size, 1, "positive");
  r.get("autoencoder.lr", c.autoencoder.lr, 0, false, "positive");
  {
    std::int64_t seed = 0;
    r.get("autoencoder.seed", seed, 0, "0 or more");
    c.autoencoder.seed = static_cast<std::uint64_t>(seed);
  }
  r.get("autoencoder.log_every", c.autoencoder.log_every, 1, "positive");
}

void read_train(Reader& r, RunConfig& c) {
  // [train]
  r.get_choice("train.objective", lang::kObjectiveKinds, c.train.objective);
  // Step k keys its noise streams k·2^20 + row as 64-bit signed integers
  // (runtime/training/objective.cpp), so steps stop below 2^43.
  r.get("train.steps", c.train.steps, 1, "positive and at most 2^43 - 1 (8796093022207)",
        kMaxTrainSteps);
  r.get_int("train.batch_size", c.train.batch_size, 1, "positive");
  r.get("train.lr", c.train.lr, 0, false, "positive");
  r.get("train.warmup", c.train.warmup, 0, "0 (none) or more");
  r.get("train.grad_clip", c.train.grad_clip, 0, true, "0 (off) or more");
  r.get("train.ema", c.train.ema, 0, true, "in [0, 1)", 1, false);
  {
    std::int64_t seed = 0;
    r.get("train.seed", seed, 0, "0 or more");
    c.train.seed = static_cast<std::uint64_t>(seed);
  }
  r.get("train.checkpoint_every", c.train.checkpoint_every, 1, "positive");
  r.get("train.sample_every", c.train.sample_every, 0, "0 (never) or more");
  r.get("train.log_every", c.train.log_every, 1, "positive");
  r.get_choice("train.time_sampling", kTimeSamplings, c.train.time_sampling);
  r.get("train.p_mean", c.train.p_mean, -1e300, true, "a finite number", 1e300, true);
  r.get("train.p_std", c.train.p_std, 0, false, "positive");
  r.get_choice("train.projections", kProjections, c.train.projections);
  r.get_choice("train.prior", kPriorChoices, c.train.prior);
  r.get_choice("train.weighting", kLossWeightings, c.train.weighting);
  r.get("train.prior_fit_images", c.train.prior_fit_images, 1, "positive");
  r.get("train.mixed_precision", c.train.mixed_precision);
  r.get("train.schedule_lr", c.train.schedule_lr, 0, true,
        "0 (the knots stay at their init) or more");
  r.get("train.schedule_offset", c.train.schedule_offset, 0, false, "positive");
  r.get_int("train.schedule_probes", c.train.schedule_probes, 1, "positive");
  r.get_choice("train.distributed.backend", kDistributedBackends, c.train.distributed.backend);
  r.get("train.distributed.timeout", c.train.distributed.timeout, 0, false, "positive (seconds)");
}

/// An output name stem (sample.output, edit.output), not a file name: one
/// job writes several files (.png, .npy, ...), and `eval` finds the .npy by
/// the same stem. A bad value is an error and leaves `fallback`.
void read_output_stem(Reader& r, const std::string& key, std::string& stem_text,
                      const std::string& fallback) {
  const Found f = r.get(key, stem_text);
  if (!f) return;
  const fs::path stem(stem_text);
  const std::string extension = stem.extension().string();
  if (stem_text.empty() || stem.filename().empty() || stem_text.back() == '/') {
    r.error_at(f, kBadValue, "`" + key + "` must name files, got \"" + stem_text + "\"",
               "a name stem in run.dir: " + key + " = \"" + fallback + "_2\" writes " + fallback +
                   "_2.png and " + fallback + "_2.npy");
    stem_text = fallback;
  } else if (extension == ".png" || extension == ".npy" || extension == ".json") {
    r.error_at(f, kBadValue,
               "`" + key + "` is a name stem, without an extension, got \"" + stem_text + "\"",
               "write " + key + " = \"" + fs::path(stem).replace_extension().string() +
                   "\": the job writes its .png and .npy");
    stem_text = fallback;
  }
}

void read_sample(Reader& r, RunConfig& c, const fs::path& toml_dir) {
  // [sample]
  r.get_choice("sample.sampler", kSamplers, c.sample.sampler);
  r.get_choice("sample.integrator", kIntegrators, c.sample.integrator);
  r.get_int("sample.steps", c.sample.steps, 1, "positive");
  r.get_int("sample.corrector_steps", c.sample.corrector_steps, 0, "0 (no corrector) or more");
  r.get("sample.snr", c.sample.snr, 0, true, "0 or more");
  r.get_choice("sample.grid", kGridChoices, c.sample.grid);
  r.get("sample.rho", c.sample.rho, 0, false, "positive");
  r.get("sample.churn", c.sample.churn, 0, true, "0 (deterministic) or more");
  r.get("sample.eta", c.sample.eta, 0, true, "in [0, 1]", 1, true);
  r.get("sample.variance_correction", c.sample.variance_correction);
  r.get_int("sample.variance_images", c.sample.variance_images, 2, "2 or more");
  r.get_choice("sample.prior", kSamplePriors, c.sample.prior);
  r.get_int("sample.prior_images", c.sample.prior_images, 2, "2 or more");
  if (const Found f = r.get_int("sample.order", c.sample.order, 1, "1 or 2");
      f && c.sample.order > 2) {
    r.error_at(f, kBadValue,
               "`sample.order` must be 1 or 2, got " + std::to_string(c.sample.order));
    c.sample.order = 2;
  }
  r.get("sample.denoise", c.sample.denoise);
  r.get_int("sample.n", c.sample.n, 1, "positive");
  r.get_int("sample.batch_size", c.sample.batch_size, 1, "positive");
  {
    std::int64_t seed = 0;
    r.get("sample.seed", seed, 0, "0 or more");
    c.sample.seed = static_cast<std::uint64_t>(seed);
  }
  {
    int label = -1;
    if (r.get_int("sample.label", label, 0, "0 or more (a class index)") && label >= 0) {
      c.sample.label = label;
    }
  }
  r.get("sample.guidance", c.sample.guidance, 0, true, "0 (none) or more");
  r.get("sample.ema", c.sample.ema);
  {
    const Found f = r.get("sample.checkpoint", c.sample.checkpoint);
    if (!c.sample.checkpoint.empty()) {
      c.sample.checkpoint = absolute_normal(c.sample.checkpoint, base_of(f, toml_dir)).string();
    }
  }
  read_output_stem(r, "sample.output", c.sample.output, "samples");
}

void read_edit(Reader& r, RunConfig& c) {
  // [edit]
  r.get("edit.strength", c.edit.strength, 0.0, false, "in (0, 1]", 1.0);
  {
    const Found sweep = r.get_array<double>("edit.sweep", c.edit.sweep, "an array of numbers",
                                            [](const toml::node& n) -> std::optional<double> {
                                              if (const auto i = n.value_exact<std::int64_t>()) {
                                                return static_cast<double>(*i);
                                              }
                                              return n.value_exact<double>();
                                            });
    for (const double s : c.edit.sweep) {
      if (!(s > 0.0 && s <= 1.0)) {
        r.error_at(sweep, kBadValue, "`edit.sweep` must hold strengths in (0, 1]");
        break;
      }
    }
  }
  r.get_int("edit.seeds", c.edit.seeds, 1, "positive");
  r.get_int("edit.images", c.edit.images, 1, "positive");
  r.get("edit.strokes", c.edit.strokes);
  r.get_int("edit.stroke_levels", c.edit.stroke_levels, 2, "at least 2");
  {
    const Found width = r.get_int("edit.stroke_width", c.edit.stroke_width, 0,
                                  "0 (a tenth of the side) or an odd width");
    if (width && c.edit.stroke_width > 0 && c.edit.stroke_width % 2 == 0) {
      r.error_at(width, kBadValue, "`edit.stroke_width` must be odd (a centred median window)");
    }
  }
  read_output_stem(r, "edit.output", c.edit.output, "edit");
}

void read_eval(Reader& r, RunConfig& c, const fs::path& toml_dir) {
  // [eval]
  r.get_int("eval.n", c.eval.n, 1, "positive");
  r.get_int("eval.batch_size", c.eval.batch_size, 1, "positive");
  {
    const Found f = r.get("eval.feature_extractor", c.eval.feature_extractor);
    if (!c.eval.feature_extractor.empty()) {
      c.eval.feature_extractor =
          absolute_normal(c.eval.feature_extractor, base_of(f, toml_dir)).string();
    }
  }
  r.get_int("eval.feature_image_size", c.eval.feature_image_size, 0, "0 (keep) or more");
  {
    const Found f = r.get("eval.classifier", c.eval.classifier);
    if (!c.eval.classifier.empty()) {
      c.eval.classifier = absolute_normal(c.eval.classifier, base_of(f, toml_dir)).string();
    }
  }
  {
    std::vector<std::string> names;
    for (const Metric m : c.eval.metrics) names.emplace_back(name(m));
    const Found f =
        r.get_array<std::string>("eval.metrics", names, "an array of metric names",
                                 [](const toml::node& n) { return n.value_exact<std::string>(); });
    std::vector<Metric> metrics;
    for (const std::string& m : names) {
      if (const std::optional<Metric> metric = kMetrics.parse(m)) {
        metrics.push_back(*metric);
        continue;
      }
      const std::vector<std::string> valid = kMetrics.names();
      const std::string close = suggest(m, valid);
      r.error_at(f, kBadValue,
                 "`eval.metrics` may hold " + join_quoted(valid) + ", got \"" + m + "\"",
                 close.empty() ? std::string{} : "did you mean \"" + close + "\"?");
      break;
    }
    if (metrics.size() == names.size()) c.eval.metrics = std::move(metrics);
  }
  r.get_int("eval.precision_recall_k", c.eval.precision_recall_k, 1, "positive");
  r.get_choice("eval.split", kSplits, c.eval.split);
  {
    std::int64_t seed = 0;
    r.get("eval.seed", seed, 0, "0 or more");
    c.eval.seed = static_cast<std::uint64_t>(seed);
  }
}

void check_consistency(Reader& r, const RunConfig& c) {
  // Cross-key consistency.
  if (c.data.split == Split::test && !has_splits(c.data.dataset)) {
    // A folder (or one IDX file) has no split: training on "test" would
    // silently train on the very images data.path holds. Refused rather
    // than warned, since a run that ignores a key it was given misleads.
    r.error_at(r.find("data.split"), kInconsistent,
               "`data.split = \"test\"` does not apply to dataset \"" +
                   std::string(name(c.data.dataset)) + "\": it has no splits",
               "data.path is the whole data set: remove data.split, and to train on other "
               "images point data.path at their " +
                   std::string(c.data.dataset == Dataset::folder ? "folder" : "file"));
  }
  if (is_latent(c)) {
    const int factor = c.autoencoder.factor;
    if (c.data.size % factor != 0) {
      r.error_at(r.find("autoencoder.factor"), kInconsistent,
                 "`data.size` = " + std::to_string(c.data.size) +
                     " is not a multiple of `autoencoder.factor` = " + std::to_string(factor),
                 "the latent side is data.size / autoencoder.factor: pick a data.size it divides");
    }
    if (c.data.flip) {
      // A flipped latent is not the code of the flipped image (the
      // encoder's kernels are not mirror-symmetric): the network would
      // learn codes the decoder never saw.
      r.error_at(r.find("data.flip"), kInconsistent,
                 "`data.flip` does not apply in latent space (model.autoencoder is set)",
                 "a flipped latent is not the code of the flipped image; set data.flip = false");
    }
  }
  if (c.sample.label && !c.model.class_conditional) {
    r.error_at(r.find("sample.label"), kInconsistent,
               "`sample.label` needs a class-conditional model",
               "set model.class_conditional = true, or remove sample.label");
  }
  if (c.sample.guidance > 0 && !c.model.class_conditional) {
    r.error_at(r.find("sample.guidance"), kInconsistent,
               "`sample.guidance` needs a class-conditional model",
               "set model.class_conditional = true, or sample.guidance = 0");
  }
}

/// Every key of the schema: reading a key is what makes it known.
void read_config(Reader& r, RunConfig& c, const fs::path& toml_dir, const std::string& stem) {
  read_run(r, c, toml_dir, stem);
  read_process_keys(r, c);
  read_data(r, c, toml_dir);
  read_forward(r, c, toml_dir);
  read_model(r, c);
  read_autoencoder(r, c);
  read_train(r, c);
  read_sample(r, c, toml_dir);
  read_edit(r, c);
  read_eval(r, c, toml_dir);
  check_consistency(r, c);
}

/// process.params: name -> number, each remembered with where it was written.
struct ParamSite {
  const toml::node* node = nullptr;
  const toml::key* key = nullptr;
  const Layer* layer = nullptr;
};

std::map<std::string, ParamSite> read_params(const std::vector<Layer>& layers, Reader& r,
                                             std::map<std::string, double>& out) {
  std::map<std::string, ParamSite> sites;
  for (const Layer& layer : layers) {
    const toml::node* params = layer.root.at_path("process.params").node();
    if (params == nullptr) continue;
    const toml::table* table = params->as_table();
    if (table == nullptr) {
      r.type_error({params, &layer}, "process.params", "a table of name = number");
      continue;
    }
    for (const auto& [key, node] : *table) {
      const std::string name(key.str());
      std::optional<double> value;
      if (const auto i = node.value_exact<std::int64_t>()) value = static_cast<double>(*i);
      if (const auto d = node.value_exact<double>()) value = *d;
      if (!value) {
        r.type_error({&node, &layer}, "process.params." + name, "a number");
        continue;
      }
      if (!std::isfinite(*value)) {
        r.error_at({&node, &layer}, kBadValue,
                   "`process.params." + name + "` must be finite, got " + readable(*value));
        continue;
      }
      out[name] = *value;
      sites[name] = {&node, &key, &layer};
    }
  }
  return sites;
}

std::optional<fs::path> find_process_file(const std::string& file, const fs::path& base,
                                          const std::vector<fs::path>& library_dirs) {
  const fs::path path(file);
  std::error_code ec;
  if (path.is_absolute()) {
    if (fs::is_regular_file(path, ec)) return path.lexically_normal();
    return std::nullopt;
  }
  if (fs::is_regular_file(base / path, ec)) return absolute_normal(path, base);
  for (const fs::path& dir : library_dirs) {
    if (fs::is_regular_file(dir / path, ec)) return absolute_normal(path, dir);
    // `library/heat.spde` written relative to the repository, found from the library too.
    if (path.begin() != path.end() && *path.begin() == "library" &&
        fs::is_regular_file(dir / path.lexically_relative("library"), ec)) {
      return absolute_normal(path.lexically_relative("library"), dir);
    }
  }
  return std::nullopt;
}

std::string param_text(double value) {
  // An expression in the language: shortest round-trip digits.
  std::array<char, 64> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return {buffer.data(), result.ptr};
}

void resolve_process(std::vector<Layer>& layers, Reader& r, RunConfig& c,
                     const LoadOptions& options, Diagnostics& diagnostics) {
  const std::map<std::string, ParamSite> sites = read_params(layers, r, c.process.params);
  const Found file = r.find("process.file");
  if (c.process.file.empty()) {
    if (!file) {
      r.error_in_file(kNoProcess, "the run names no process: `process.file` is required",
                      "add [process] with file = \"perona_malik.spde\" (a path relative to "
                      "this file, or a name in library/)");
    }
    return;
  }
  const fs::path base = base_of(file, layers.front().base_dir);
  const std::vector<fs::path> library =
      options.library_dirs.empty() ? default_library_dirs() : options.library_dirs;
  const std::optional<fs::path> found = find_process_file(c.process.file, base, library);
  if (!found) {
    if (!options.check_process) {
      c.process.file = absolute_normal(c.process.file, base).string();
      return;
    }
    std::string searched = base.string();
    for (const fs::path& dir : library) searched += ", " + dir.string();
    r.error_at(file, kNoProcess, "process file \"" + c.process.file + "\" not found",
               "searched " + searched);
    return;
  }
  c.process.file = found->string();
  if (!options.check_process) return;

  // The process's declared params: names checked here, where the TOML says them.
  Diagnostics plain;
  lang::CheckOptions check_options;
  check_options.warnings = false;
  const std::optional<lang::Process> process =
      lang::check_file(c.process.file, check_options, plain);
  if (!process) {
    for (const lang::Diagnostic& d : plain.all()) diagnostics.report(d);
    return;
  }
  std::vector<std::string> declared;
  for (const lang::Param& p : process->params) declared.push_back(p.name);
  bool names_ok = true;
  for (const auto& [name, site] : sites) {
    if (process->find_param(name) != nullptr) continue;
    names_ok = false;
    const std::string close = suggest(name, declared);
    r.error_at_key(*site.layer, *site.key, kUnknownParam,
                   "process `" + process->name + "` has no param `" + name + "`",
                   close.empty() ? "its params: " + join_quoted(declared, "")
                                 : "did you mean `" + close + "`?");
  }
  if (!names_ok) return;

  // `size` is the side of the process's grid (lang::kSizeParam): it follows
  // data.size (in latent space data.size / autoencoder.factor) unless the run
  // sets both alike; the runtime's model refuses any other value.
  if (process->find_param(lang::kSizeParam) != nullptr) {
    const int side = model_side(c);
    const auto it = c.process.params.find(lang::kSizeParam);
    if (it == c.process.params.end()) {
      c.process.params[lang::kSizeParam] = side;
    } else if (it->second != side) {
      const ParamSite& site = sites.at(lang::kSizeParam);
      const std::string grid =
          is_latent(c) ? "the latent side data.size / autoencoder.factor = " + std::to_string(side)
                       : "`data.size` = " + std::to_string(side);
      r.error_at({site.node, site.layer}, kInconsistent,
                 "`process.params.size` = " + readable(it->second) + " disagrees with " + grid,
                 "the process's `size` is the side of its grid; process.params.size defaults to "
                 "it, so set data.size (and autoencoder.factor) alone");
      return;
    }
  }
  Diagnostics checked;
  if (!check_process(c, checked)) {
    for (const lang::Diagnostic& d : checked.all()) diagnostics.report(d);
    // Say where the values the process rejects came from.
    for (const auto& [name, site] : sites) {
      lang::Diagnostic note;
      note.severity = lang::Severity::note;
      note.file = site.layer->source;
      note.span = Reader::span_of(*site.layer, site.node->source());
      note.message = "with `process.params." + name + "` = " + readable(c.process.params.at(name));
      diagnostics.report(std::move(note));
    }
  }
}

std::optional<RunConfig> parse_layers(std::vector<Layer>& layers, const std::string& stem,
                                      const LoadOptions& options, Diagnostics& diagnostics) {
  Diagnostics found;
  Reader reader(layers, found);
  RunConfig config;
  config.source_path = layers.front().source->path();
  read_config(reader, config, layers.front().base_dir, stem);
  resolve_process(layers, reader, config, options, found);
  reader.report_unknown();
  // In reading order: the file top to bottom, then each override.
  // The language's diagnostics about the .spde come after, and the notes
  // that say which params they were checked with last.
  auto rank = [&](const lang::Diagnostic& d) {
    if (d.severity == lang::Severity::note) return std::pair{layers.size() + 1, Span{}.begin};
    std::size_t layer = layers.size();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      if (d.file == layers[i].source) layer = i;
    }
    return std::pair{layer, d.span.begin};
  };
  std::vector<lang::Diagnostic> sorted = found.all();
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
  for (lang::Diagnostic& d : sorted) diagnostics.report(std::move(d));
  if (found.has_errors()) return std::nullopt;
  return config;
}

// --- Writing ------------------------------------------------------------------------------

class Writer {
 public:
  void section(const char* name) {
    if (!out_.str().empty()) out_ << "\n";
    out_ << "[" << name << "]\n";
  }
  void key(const char* name, const std::string& value) { line(name, toml_string(value)); }
  void key(const char* name, const char* value) { line(name, toml_string(value)); }
  void key(const char* name, bool value) { line(name, value ? "true" : "false"); }
  void key(const char* name, double value) { line(name, format_double(value)); }
  void key(const char* name, std::int64_t value) { line(name, std::to_string(value)); }
  void key(const char* name, int value) { line(name, std::to_string(value)); }
  void key(const char* name, std::uint64_t value) { line(name, std::to_string(value)); }
  /// An enumerated key: its table's spelling.
  template <typename Enum>
  requires std::is_enum_v<Enum>
  void key(const char* key_name, Enum value) { line(key_name, toml_string(name(value))); }
  template <typename T>
  void key(const char* key_name, const std::vector<T>& values) {
    std::string text = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i != 0) text += ", ";
      if constexpr (std::is_same_v<T, std::string>) {
        text += toml_string(values[i]);
      } else if constexpr (std::is_enum_v<T>) {
        text += toml_string(name(values[i]));
      } else if constexpr (std::is_same_v<T, double>) {
        text += format_double(values[i]);
      } else {
        text += std::to_string(values[i]);
      }
    }
    line(key_name, text + "]");
  }
  void raw(const std::string& text) { out_ << text; }
  [[nodiscard]] std::string str() const { return out_.str(); }

 private:
  void line(const char* name, const std::string& value) { out_ << name << " = " << value << "\n"; }
  std::ostringstream out_;
};

}  // namespace

// --- Public API ---------------------------------------------------------------------------

std::optional<RunConfig> parse_run_config(const std::string& text, const std::string& display_path,
                                          const fs::path& base_dir,
                                          const std::vector<std::string>& overrides,
                                          Diagnostics& diagnostics, const LoadOptions& options) {
  auto source = std::make_shared<const SourceFile>(display_path, text);
  std::vector<Layer> layers;
  std::optional<toml::table> root = parse_toml(text, source, display_path, &diagnostics);
  bool ok = root.has_value();
  layers.push_back(Layer{root ? std::move(*root) : toml::table{},
                         source,
                         absolute_normal(base_dir, fs::current_path()),
                         false,
                         {},
                         {}});
  for (std::size_t i = 0; i < overrides.size(); ++i) {
    std::optional<Layer> layer = parse_override(overrides[i], i + 1, diagnostics);
    if (layer) {
      layers.push_back(std::move(*layer));
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return parse_layers(layers, fs::path(display_path).stem().string(), options, diagnostics);
}

std::optional<RunConfig> load_run_config(const std::string& path,
                                         const std::vector<std::string>& overrides,
                                         Diagnostics& diagnostics, const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diagnostics.error(kUnreadable, nullptr, {},
                      "cannot read run config \"" + path + "\": " + lang::os_reason(),
                      "check the path; runs ship in specs/");
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > lang::kMaxSourceBytes) {
    diagnostics.error(kUnreadable, nullptr, {}, "run config \"" + path + "\" is too large");
    return std::nullopt;
  }
  const fs::path dir = fs::path(path).parent_path();
  return parse_run_config(text.str(), path, dir.empty() ? fs::path(".") : dir, overrides,
                          diagnostics, options);
}

RunConfig load_run_config_or_throw(const std::string& path,
                                   const std::vector<std::string>& overrides,
                                   const LoadOptions& options) {
  Diagnostics diagnostics;
  std::optional<RunConfig> config = load_run_config(path, overrides, diagnostics, options);
  if (!config) throw ConfigError(lang::render_all(diagnostics));
  return std::move(*config);
}

std::optional<lang::Process> check_process(const RunConfig& config, Diagnostics& diagnostics) {
  lang::CheckOptions options;
  options.warnings = false;
  for (const auto& [name, value] : config.process.params) {
    options.overrides.push_back({name, param_text(value)});
  }
  std::optional<lang::Process> process =
      lang::check_file(config.process.file, options, diagnostics);
  if (process && config.process.semantics != SemanticsChoice::declared) {
    const lang::Semantics wanted = config.process.semantics == SemanticsChoice::sde
                                       ? lang::Semantics::sde
                                       : lang::Semantics::decoupled;
    if (process->semantics != wanted) {
      process->semantics = wanted;
      process->classification = {};
      lang::classify(*process);
    }
  }
  return process;
}

std::string resolved_toml(const RunConfig& c) {
  Writer w;
  w.raw("# Resolved run configuration, written by spdec: every key explicit, paths absolute.\n");
  if (!c.source_path.empty()) w.raw("# From " + c.source_path + ".\n");
  w.raw("# Schema: specs/RUN_CONFIG.md\n");
  w.section("run");
  w.key("name", c.run.name);
  w.key("dir", c.run.dir);
  w.key("device", c.run.device);
  w.key("threads", c.run.threads);

  w.section("process");
  w.key("file", c.process.file);
  w.key("semantics", c.process.semantics);
  w.key("backend", c.process.backend);
  w.key("flow", c.process.flow);
  w.key("fed_cycles", c.process.fed_cycles);
  w.raw("params = {");
  bool first = true;
  for (const auto& [name, value] : c.process.params) {
    w.raw(std::string(first ? " " : ", ") + name + " = " + format_double(value));
    first = false;
  }
  w.raw(first ? "}\n" : " }\n");

  w.section("data");
  w.key("dataset", c.data.dataset);
  w.key("path", c.data.path);
  w.key("split", c.data.split);
  w.key("channels", c.data.channels);
  w.key("size", c.data.size);
  w.key("range", c.data.range);
  w.key("flip", c.data.flip);
  w.key("n", c.data.n);

  w.section("forward");
  w.key("images", c.forward.images);
  if (c.forward.time_list.empty()) {
    w.key("times", c.forward.times);
  } else {
    w.key("times", c.forward.time_list);
  }
  w.key("seed", c.forward.seed);
  w.key("input", c.forward.input);
  w.key("png", c.forward.png);
  w.key("npy", c.forward.npy);
  w.key("json", c.forward.json);

  w.section("model");
  w.key("base_channels", c.model.base_channels);
  w.key("channel_mult", c.model.channel_mult);
  w.key("num_res_blocks", c.model.num_res_blocks);
  w.key("attention_resolutions", c.model.attention_resolutions);
  w.key("dropout", c.model.dropout);
  w.key("embedding", c.model.embedding);
  w.key("fourier_scale", c.model.fourier_scale);
  w.key("class_conditional", c.model.class_conditional);
  w.key("num_classes", c.model.num_classes);
  w.key("label_dropout", c.model.label_dropout);
  w.key("parameterisation",
        c.model.parameterisation ? lang::name(*c.model.parameterisation) : "auto");
  w.key("preconditioning", c.model.preconditioning);
  w.key("sigma_data", c.model.sigma_data);
  w.key("time_input", c.model.time_input);
  w.key("autoencoder", c.model.autoencoder);

  w.section("autoencoder");
  w.key("latent_channels", c.autoencoder.latent_channels);
  w.key("factor", c.autoencoder.factor);
  w.key("channels", c.autoencoder.channels);
  w.key("kl_weight", c.autoencoder.kl_weight);
  w.key("scales", c.autoencoder.scales);
  w.key("steps", c.autoencoder.steps);
  w.key("batch_size", c.autoencoder.batch_size);
  w.key("lr", c.autoencoder.lr);
  w.key("seed", c.autoencoder.seed);
  w.key("log_every", c.autoencoder.log_every);

  w.section("train");
  w.key("objective", c.train.objective ? lang::name(*c.train.objective) : "auto");
  w.key("steps", c.train.steps);
  w.key("batch_size", c.train.batch_size);
  w.key("lr", c.train.lr);
  w.key("warmup", c.train.warmup);
  w.key("grad_clip", c.train.grad_clip);
  w.key("ema", c.train.ema);
  w.key("seed", c.train.seed);
  w.key("checkpoint_every", c.train.checkpoint_every);
  w.key("sample_every", c.train.sample_every);
  w.key("log_every", c.train.log_every);
  w.key("time_sampling", c.train.time_sampling);
  w.key("p_mean", c.train.p_mean);
  w.key("p_std", c.train.p_std);
  w.key("projections", c.train.projections);
  w.key("prior", c.train.prior);
  w.key("weighting", c.train.weighting);
  w.key("prior_fit_images", c.train.prior_fit_images);
  w.key("mixed_precision", c.train.mixed_precision);
  w.key("schedule_lr", c.train.schedule_lr);
  w.key("schedule_offset", c.train.schedule_offset);
  w.key("schedule_probes", c.train.schedule_probes);

  w.section("train.distributed");
  w.key("backend", c.train.distributed.backend);
  w.key("timeout", c.train.distributed.timeout);

  w.section("sample");
  w.key("sampler", c.sample.sampler);
  w.key("integrator", c.sample.integrator);
  w.key("steps", c.sample.steps);
  w.key("corrector_steps", c.sample.corrector_steps);
  w.key("snr", c.sample.snr);
  w.key("grid", c.sample.grid);
  w.key("rho", c.sample.rho);
  w.key("churn", c.sample.churn);
  w.key("eta", c.sample.eta);
  w.key("variance_correction", c.sample.variance_correction);
  w.key("variance_images", c.sample.variance_images);
  w.key("prior", c.sample.prior);
  w.key("prior_images", c.sample.prior_images);
  w.key("order", c.sample.order);
  w.key("denoise", c.sample.denoise);
  w.key("n", c.sample.n);
  w.key("batch_size", c.sample.batch_size);
  w.key("seed", c.sample.seed);
  if (c.sample.label) w.key("label", *c.sample.label);
  w.key("guidance", c.sample.guidance);
  w.key("ema", c.sample.ema);
  w.key("checkpoint", c.sample.checkpoint);
  w.key("output", c.sample.output);

  w.section("edit");
  w.key("strength", c.edit.strength);
  w.key("sweep", c.edit.sweep);
  w.key("seeds", c.edit.seeds);
  w.key("images", c.edit.images);
  w.key("strokes", c.edit.strokes);
  w.key("stroke_levels", c.edit.stroke_levels);
  w.key("stroke_width", c.edit.stroke_width);
  w.key("output", c.edit.output);

  w.section("eval");
  w.key("n", c.eval.n);
  w.key("batch_size", c.eval.batch_size);
  w.key("feature_extractor", c.eval.feature_extractor);
  w.key("feature_image_size", c.eval.feature_image_size);
  w.key("classifier", c.eval.classifier);
  w.key("metrics", c.eval.metrics);
  w.key("precision_recall_k", c.eval.precision_recall_k);
  w.key("split", c.eval.split);
  w.key("seed", c.eval.seed);
  return w.str();
}

bool is_latent(const RunConfig& config) { return !config.model.autoencoder.empty(); }

int model_side(const RunConfig& config) {
  return is_latent(config) ? config.data.size / config.autoencoder.factor : config.data.size;
}

fs::path run_path(const RunConfig& config, const std::string& name) {
  const fs::path path(name);
  return path.is_absolute() ? path : fs::path(config.run.dir) / path;
}

fs::path save_resolved(const RunConfig& config, const std::string& name) {
  const fs::path dir(config.run.dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw ConfigError("cannot create run directory " + dir.string() + ": " + ec.message());
  }
  fs::path target = dir / name;
  if (const auto failure = lang::write_file_atomically(target, resolved_toml(config))) {
    throw ConfigError(failure->message());
  }
  return target;
}

namespace {

/// A value as a person writes it in a TOML file: "text", 0.4 (the shortest
/// spelling that reads back, not toml++'s 17 digits), [1, 2].
std::string value_text(const toml::node& node) {
  if (const auto text = node.value_exact<std::string>()) return toml_string(*text);
  if (const auto number = node.value_exact<double>()) return format_double(*number);
  if (const auto integer = node.value_exact<std::int64_t>()) return std::to_string(*integer);
  if (const auto flag = node.value_exact<bool>()) return *flag ? "true" : "false";
  if (const toml::array* array = node.as_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < array->size(); ++i) {
      out += (i == 0 ? "" : ", ") + value_text(*array->get(i));
    }
    return out + "]";
  }
  std::ostringstream text;
  node.visit([&text](const auto& value) { text << value; });  // dates: toml++'s spelling
  return text.str();
}

void flatten(const toml::table& table, const std::string& parent,
             std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& [key, node] : table) {
    const std::string path = dotted(parent, std::string(key.str()));
    if (const toml::table* sub = node.as_table()) {
      flatten(*sub, path, out);
      continue;
    }
    out.emplace_back(path, value_text(node));
  }
}

/// Every key of the resolved config with its value's TOML text, sorted by
/// key (toml++'s tables are ordered maps). Through the resolved text, so
/// that a difference reads as the key a person writes.
std::vector<std::pair<std::string, std::string>> flat_config(const RunConfig& config) {
  const std::string text = resolved_toml(config);
  std::vector<std::pair<std::string, std::string>> out;
  const std::optional<toml::table> table = parse_toml(text, nullptr, "<resolved>", nullptr);
  if (table) flatten(*table, "", out);
  return out;
}

bool in_sections(const std::string& key, const std::vector<std::string>& sections) {
  return std::any_of(sections.begin(), sections.end(), [&key](const std::string& section) {
    return key.size() > section.size() && key.compare(0, section.size(), section) == 0 &&
           key[section.size()] == '.';
  });
}

}  // namespace

std::vector<KeyDifference> differing_keys(const RunConfig& first, const RunConfig& second,
                                          const std::vector<std::string>& sections) {
  const auto a = flat_config(first);
  const auto b = flat_config(second);
  const std::map<std::string, std::string> a_map(a.begin(), a.end());
  const std::map<std::string, std::string> b_map(b.begin(), b.end());
  std::vector<KeyDifference> out;
  std::set<std::string> seen;
  for (const auto* side : {&a, &b}) {
    for (const auto& [key, value] : *side) {
      if (!in_sections(key, sections) || !seen.insert(key).second) continue;
      const auto ia = a_map.find(key);
      const auto ib = b_map.find(key);
      const std::string va = ia == a_map.end() ? "absent" : ia->second;
      const std::string vb = ib == b_map.end() ? "absent" : ib->second;
      if (va != vb) out.push_back({key, va, vb});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const KeyDifference& x, const KeyDifference& y) { return x.key < y.key; });
  return out;
}

bool is_same_run(const RunConfig& spec, const RunConfig& trained) {
  return spec.run.name == trained.run.name && spec.process.file == trained.process.file;
}

RunConfig with_trained_run(const RunConfig& spec, const RunConfig& trained) {
  RunConfig out = spec;
  out.process = trained.process;
  // How the kernels run, not which process they compute: the spec's (and --backend's).
  out.process.backend = spec.process.backend;
  out.data = trained.data;
  out.model = trained.model;
  out.autoencoder = trained.autoencoder;
  out.train = trained.train;
  // How the ranks talk, not what was trained: the spec's, like process.backend.
  out.train.distributed = spec.train.distributed;
  return out;
}

const std::vector<std::string>& valid_values(const std::string& key) {
  static const std::vector<std::string> none;
  const auto it = choices().find(key);
  return it == choices().end() ? none : it->second;
}

}  // namespace spdec::config
