// A checked process: what `spdec check` proves and what codegen and the
// runtime consume. Everything here is resolved, folded and validated.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lang/enum_table.hpp"
#include "lang/expr.hpp"
#include "lang/linear_rate.hpp"
#include "lang/source.hpp"
#include "lang/training_plan.hpp"

namespace spdec::lang {

enum class BoundaryKind { neumann, periodic, dirichlet };
enum class Semantics { sde, decoupled };
enum class Channels { independent, coupled };
/// Face conductance of div(k grad u) (specs/LANGUAGE.md §13.4).
enum class FluxScheme { paper, face_mean, face_gradient };
/// Node gradient: u[i+1] - u[i-1] (the paper's) or half of it.
enum class GradientForm { difference, central };

enum class DriftClass { linear, semilinear, quasilinear, nonlinear };
enum class NoiseClass { none, additive, multiplicative };

// Their spellings, in the `.spde` language and in every report (name() below
// and the parser of the process options read these tables).
inline constexpr EnumTable<BoundaryKind, 3> kBoundaryKinds({{{BoundaryKind::neumann, "neumann"},
                                                             {BoundaryKind::periodic, "periodic"},
                                                             {BoundaryKind::dirichlet,
                                                              "dirichlet"}}});
inline constexpr EnumTable<Semantics, 2> kSemantics({{{Semantics::sde, "sde"},
                                                      {Semantics::decoupled, "decoupled"}}});
inline constexpr EnumTable<Channels, 2> kChannels({{{Channels::independent, "independent"},
                                                    {Channels::coupled, "coupled"}}});
inline constexpr EnumTable<FluxScheme, 3> kFluxSchemes({{{FluxScheme::paper, "paper"},
                                                         {FluxScheme::face_mean, "face_mean"},
                                                         {FluxScheme::face_gradient,
                                                          "face_gradient"}}});
inline constexpr EnumTable<GradientForm, 2> kGradientForms(
    {{{GradientForm::difference, "difference"}, {GradientForm::central, "central"}}});
inline constexpr EnumTable<DriftClass, 4> kDriftClasses({{{DriftClass::linear, "linear"},
                                                          {DriftClass::semilinear, "semilinear"},
                                                          {DriftClass::quasilinear, "quasilinear"},
                                                          {DriftClass::nonlinear, "nonlinear"}}});
inline constexpr EnumTable<NoiseClass, 3> kNoiseClasses({{{NoiseClass::none, "none"},
                                                          {NoiseClass::additive, "additive"},
                                                          {NoiseClass::multiplicative,
                                                           "multiplicative"}}});

[[nodiscard]] const char* name(BoundaryKind kind);
[[nodiscard]] const char* name(Semantics semantics);
[[nodiscard]] const char* name(Channels channels);
[[nodiscard]] const char* name(FluxScheme scheme);
[[nodiscard]] const char* name(GradientForm form);
[[nodiscard]] const char* name(DriftClass drift_class);
[[nodiscard]] const char* name(NoiseClass noise_class);

struct Param {
  std::string name;
  double value = 0;
  bool overridden = false;
  Span span;  ///< the declaration's name
};

/// `schedule NAME(t) = learnable knots(N) init EXPR`.
struct Learnable {
  std::string name;
  std::vector<double> knot_times;   ///< N evenly spaced on [t0, T]
  std::vector<double> init_values;  ///< > 0; interpolated log-linearly
  Span span;
};

struct Noise {
  double correlation_length = 0;  ///< ℓ; 0 = white
  ExprRef filter;                 ///< eigenvalue of Q^{1/2} in terms of kappa (and t); null if none
};

struct Boundary {
  BoundaryKind kind = BoundaryKind::neumann;
  double value = 0;  ///< dirichlet ghost value
};

struct TimeSettings {
  double T = 0;
  double t0 = 0;
  double dt = 0;
  std::optional<double> taming;  ///< γ; nullopt = plain Euler–Maruyama
};

struct Classification {
  DriftClass drift = DriftClass::linear;
  /// drift = a(t)·lap(u) + c(t)·u: diagonal in the DCT-II/FFT basis under
  /// neumann/periodic (not under dirichlet: exact_marginals says so).
  bool drift_spectral = false;
  NoiseClass noise = NoiseClass::none;
  bool noise_spatially_varying = false;  ///< g2 reads x, y or u0
  bool reads_u0 = false;
  /// Gaussian with closed-form per-mode marginals (docs/design.md §2).
  bool exact_marginals = false;
  /// drift = c(t)·u + terms that read u only through stencils
  /// (lang/linear_rate.hpp): the rate at which the decoupled reading's noise
  /// decays, as in the exact linear reading.
  LinearRate pointwise_rate;
  std::vector<std::string> notes;  ///< why, in words
};

/// `param size`, where a process declares it, is the side of the image grid
/// the process runs on (schedules scale with it, e.g. α₁ = 2·size): the run
/// configuration and check_file_for_side set it, and the runtime refuses a
/// model whose grid differs from it.
inline constexpr const char* kSizeParam = "size";

struct Process {
  SourcePtr file;
  std::string name;
  std::vector<Param> params;
  ExprRef drift;
  ExprRef diffusion;
  Noise noise;
  Boundary boundary;
  TimeSettings time;
  Semantics semantics = Semantics::sde;
  Channels channels = Channels::independent;
  FluxScheme scheme = FluxScheme::paper;
  GradientForm gradient = GradientForm::difference;
  std::vector<Learnable> learnables;
  Classification classification;
  /// Which model and objectives training uses (lang/training_plan.hpp).
  TrainingPlan training;

  [[nodiscard]] const Param* find_param(std::string_view param_name) const;
};

}  // namespace spdec::lang
