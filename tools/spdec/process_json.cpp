#include "tools/spdec/process_json.hpp"

#include <cmath>
#include <sstream>

namespace spdec::cli {

namespace {

using nlohmann::json;

/// JSON has no infinity: non-finite numbers are written as strings.
json number(double v) {
  if (std::isfinite(v)) {
    return v;
  }
  return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += (i > 0 ? separator : "") + items[i];
  }
  return out;
}

std::string noise_words(const lang::Process& p) {
  if (p.noise.filter) {
    return "coloured by the filter " + lang::to_string(p.noise.filter);
  }
  if (p.noise.correlation_length > 0) {
    std::ostringstream out;
    out << "correlated, exponential kernel with correlation length " << p.noise.correlation_length;
    return out.str();
  }
  return "white";
}

std::string drift_words(const lang::Process& p) {
  const auto& c = p.classification;
  switch (c.drift) {
    case lang::DriftClass::linear:
      return c.drift_spectral ? "linear, diagonal in the boundary's eigenbasis"
                              : "linear (not diagonal in the eigenbasis)";
    case lang::DriftClass::semilinear:
      return "semilinear: highest derivatives enter linearly with coefficients free of u";
    case lang::DriftClass::quasilinear:
      return "quasilinear: highest derivatives enter linearly, coefficients depend on u or ∇u";
    case lang::DriftClass::nonlinear:
      return "fully nonlinear in its highest derivatives";
  }
  return "?";
}

}  // namespace

json to_json(const lang::Process& p) {
  const auto& c = p.classification;
  json params = json::object();
  for (const lang::Param& param : p.params) {
    params[param.name] = number(param.value);
  }
  json learnables = json::array();
  for (const lang::Learnable& l : p.learnables) {
    learnables.push_back({{"name", l.name}, {"knots", l.knot_times.size()}});
  }
  json time = {{"T", number(p.time.T)}, {"t0", number(p.time.t0)}, {"dt", number(p.time.dt)}};
  time["taming"] = p.time.taming ? number(*p.time.taming) : json("off");
  return {
      {"valid", true},
      {"process", p.name},
      {"file", p.file ? p.file->path() : ""},
      {"params", params},
      {"drift_class", lang::name(c.drift)},
      {"drift_spectral", c.drift_spectral},
      {"noise_class", lang::name(c.noise)},
      {"noise_spatially_varying", c.noise_spatially_varying},
      {"noise",
       {{"correlation_length", number(p.noise.correlation_length)},
        {"filter", p.noise.filter ? json(lang::to_string(p.noise.filter)) : json(nullptr)}}},
      {"reads_u0", c.reads_u0},
      {"exact_marginals", c.exact_marginals},
      {"exact_objectives", c.exact_objectives},
      {"recommended_objective",
       c.exact_objectives.empty() ? json(nullptr) : json(c.exact_objectives.front())},
      {"notes", c.notes},
      {"semantics", lang::name(p.semantics)},
      {"boundary", {{"kind", lang::name(p.boundary.kind)}, {"value", number(p.boundary.value)}}},
      {"channels", lang::name(p.channels)},
      {"scheme", lang::name(p.scheme)},
      {"gradient", lang::name(p.gradient)},
      {"time", time},
      {"learnables", learnables},
      {"drift", p.drift ? lang::to_string(p.drift) : ""},
      {"diffusion", p.diffusion ? lang::to_string(p.diffusion) : ""},
  };
}

json to_json(const lang::Diagnostics& diagnostics) {
  json out = json::array();
  for (const lang::Diagnostic& d : diagnostics.all()) {
    const lang::LineColumn at = d.start();
    const lang::LineColumn end = d.file ? d.file->line_column(d.span.end) : lang::LineColumn{};
    out.push_back({{"severity", d.severity == lang::Severity::error     ? "error"
                                : d.severity == lang::Severity::warning ? "warning"
                                                                        : "note"},
                   {"code", d.code},
                   {"file", d.file ? d.file->path() : ""},
                   {"line", at.line},
                   {"column", at.column},
                   {"end_line", end.line},
                   {"end_column", end.column},
                   {"message", d.message},
                   {"hint", d.hint}});
  }
  return out;
}

std::string describe(const lang::Process& p) {
  const auto& c = p.classification;
  std::ostringstream out;
  out << p.file->path() << ": process `" << p.name << "` is valid\n";
  std::vector<std::string> params;
  for (const lang::Param& param : p.params) {
    std::ostringstream v;
    v << param.name << " = " << param.value << (param.overridden ? " (overridden)" : "");
    params.push_back(v.str());
  }
  out << "  params        " << (params.empty() ? "none" : join(params, ", ")) << "\n";
  out << "  drift         " << drift_words(p) << "\n";
  out << "  noise         " << lang::name(c.noise)
      << (c.noise_spatially_varying ? ", varying in space" : "") << "; " << noise_words(p) << "\n";
  out << "  reads u0      " << (c.reads_u0 ? "yes" : "no") << "\n";
  out << "  boundary      " << lang::name(p.boundary.kind);
  if (p.boundary.kind == lang::BoundaryKind::dirichlet) {
    out << " " << p.boundary.value;
  }
  out << "; scheme " << lang::name(p.scheme) << ", gradient " << lang::name(p.gradient)
      << ", channels " << lang::name(p.channels) << "\n";
  out << "  time          T = " << p.time.T << ", t0 = " << p.time.t0 << ", dt = " << p.time.dt
      << ", taming ";
  if (p.time.taming) {
    out << "γ = " << *p.time.taming << "\n";
  } else {
    out << "off\n";
  }
  out << "  semantics     " << lang::name(p.semantics) << "\n";
  for (const lang::Learnable& l : p.learnables) {
    out << "  learnable     " << l.name << ": " << l.knot_times.size()
        << " knots, log-linear interpolation\n";
  }
  out << "  exact training  "
      << (c.exact_objectives.empty() ? "none (the process adds no noise)"
                                     : join(c.exact_objectives, ", ") + " (auto picks `" +
                                           c.exact_objectives.front() + "`)")
      << "\n";
  for (const std::string& note : c.notes) {
    out << "  note: " << note << "\n";
  }
  return out.str();
}

}  // namespace spdec::cli
