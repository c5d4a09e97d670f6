#include "tools/spdec/process_json.hpp"

#include <cmath>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

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
      if (!c.drift_spectral) return "linear (not diagonal in the eigenbasis)";
      // a(t) lap(u) + c(t) u is diagonal in the DCT-II/FFT only for neumann
      // and periodic: dirichlet's eigenbasis is not the one spdec uses.
      return p.boundary.kind == lang::BoundaryKind::dirichlet
                 ? "linear, a(t) lap(u) + c(t) u (not diagonal in the DCT-II basis under a "
                   "dirichlet boundary)"
                 : "linear, diagonal in the boundary's eigenbasis";
    case lang::DriftClass::semilinear:
      return "semilinear: highest derivatives enter linearly with coefficients free of u";
    case lang::DriftClass::quasilinear:
      return "quasilinear: highest derivatives enter linearly, coefficients depend on u or ∇u";
    case lang::DriftClass::nonlinear:
      return "fully nonlinear in its highest derivatives";
  }
  return "?";
}

std::vector<std::string> objective_names(const std::vector<lang::ObjectiveKind>& objectives) {
  std::vector<std::string> out;
  out.reserve(objectives.size());
  for (const lang::ObjectiveKind o : objectives) out.emplace_back(lang::name(o));
  return out;
}

json to_json(const lang::TrainingPlan& plan) {
  const std::optional<lang::ObjectiveKind> automatic = plan.automatic_objective();
  return {
      {"model", lang::name(plan.model)},
      {"trainable", plan.trainable()},
      {"refusal", plan.trainable() ? json(nullptr) : json(plan.refusal)},
      {"exact_objectives", objective_names(plan.exact_objectives)},
      {"accepted_objectives", objective_names(plan.accepted_objectives())},
      {"automatic_objective", automatic ? json(lang::name(*automatic)) : json(nullptr)},
      {"automatic_parameterisation",
       automatic ? json(lang::name(plan.automatic_parameterisation(*automatic))) : json(nullptr)},
      {"per_mode_scales", plan.per_mode_scales},
      {"uniform_scales", plan.uniform_scales},
      {"reasons", plan.reasons},
  };
}

/// The training plan as check prints it: the model, what training accepts,
/// what auto picks, and why.
void describe_training(std::ostream& out, const lang::TrainingPlan& plan) {
  out << "  training      model " << lang::name(plan.model);
  const std::optional<lang::ObjectiveKind> automatic = plan.automatic_objective();
  if (!automatic) {
    out << "; cannot be trained: " << plan.refusal << "\n";
    return;
  }
  out << "; exact objectives " << join(objective_names(plan.exact_objectives), ", ")
      << " (auto picks `" << lang::name(*automatic) << "`, parameterisation `"
      << lang::name(plan.automatic_parameterisation(*automatic))
      << "`); flow_matching also trains\n";
  for (const std::string& reason : plan.reasons) {
    out << "  why: " << reason << "\n";
  }
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
      {"exact_objectives", objective_names(p.training.exact_objectives)},
      {"recommended_objective", p.training.automatic_objective()
                                    ? json(lang::name(*p.training.automatic_objective()))
                                    : json(nullptr)},
      {"training", to_json(p.training)},
      {"notes", c.notes},
      {"semantics", lang::name(p.semantics)},
      {"boundary", {{"kind", lang::name(p.boundary.kind)}, {"value", number(p.boundary.value)}}},
      {"channels", lang::name(p.channels)},
      {"scheme", lang::name(p.scheme)},
      {"gradient", lang::name(p.gradient)},
      {"time", time},
      {"learnables", learnables},
      {"drift", p.drift ? lang::to_string_shared(p.drift) : ""},
      {"diffusion", p.diffusion ? lang::to_string_shared(p.diffusion) : ""},
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
  describe_training(out, p.training);
  for (const std::string& note : c.notes) {
    out << "  note: " << note << "\n";
  }
  return out.str();
}

}  // namespace spdec::cli
