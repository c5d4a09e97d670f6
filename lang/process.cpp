#include "lang/process.hpp"

namespace spdec::lang {

const char* name(BoundaryKind kind) {
  switch (kind) {
    case BoundaryKind::neumann:
      return "neumann";
    case BoundaryKind::periodic:
      return "periodic";
    case BoundaryKind::dirichlet:
      return "dirichlet";
  }
  return "?";
}

const char* name(Semantics semantics) { return semantics == Semantics::sde ? "sde" : "decoupled"; }

const char* name(Channels channels) {
  return channels == Channels::independent ? "independent" : "coupled";
}

const char* name(FluxScheme scheme) {
  switch (scheme) {
    case FluxScheme::paper:
      return "paper";
    case FluxScheme::face_mean:
      return "face_mean";
    case FluxScheme::face_gradient:
      return "face_gradient";
  }
  return "?";
}

const char* name(GradientForm form) {
  return form == GradientForm::difference ? "difference" : "central";
}

const char* name(DriftClass drift_class) {
  switch (drift_class) {
    case DriftClass::linear:
      return "linear";
    case DriftClass::semilinear:
      return "semilinear";
    case DriftClass::quasilinear:
      return "quasilinear";
    case DriftClass::nonlinear:
      return "nonlinear";
  }
  return "?";
}

const char* name(NoiseClass noise_class) {
  switch (noise_class) {
    case NoiseClass::none:
      return "none";
    case NoiseClass::additive:
      return "additive";
    case NoiseClass::multiplicative:
      return "multiplicative";
  }
  return "?";
}

const Param* Process::find_param(std::string_view param_name) const {
  for (const Param& p : params) {
    if (p.name == param_name) {
      return &p;
    }
  }
  return nullptr;
}

}  // namespace spdec::lang
