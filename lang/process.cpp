#include "lang/process.hpp"

namespace spdec::lang {

const char* name(BoundaryKind kind) { return kBoundaryKinds.name(kind); }
const char* name(Semantics semantics) { return kSemantics.name(semantics); }
const char* name(Channels channels) { return kChannels.name(channels); }
const char* name(FluxScheme scheme) { return kFluxSchemes.name(scheme); }
const char* name(GradientForm form) { return kGradientForms.name(form); }
const char* name(DriftClass drift_class) { return kDriftClasses.name(drift_class); }
const char* name(NoiseClass noise_class) { return kNoiseClasses.name(noise_class); }

const Param* Process::find_param(std::string_view param_name) const {
  for (const Param& p : params) {
    if (p.name == param_name) {
      return &p;
    }
  }
  return nullptr;
}

}  // namespace spdec::lang
