// The training plan of a checked process: which model the runtime builds for
// it, which objectives are exact for it (the preferred first: what
// `train.objective = "auto"` picks), whether X_t given x₀ has per-mode scales
// that do not depend on x₀ (what the denoiser parameterisation needs), and the
// reasons, in words. Computed once, here, without LibTorch; `spdec check`
// prints it, the runtime builds its model and chooses objectives and
// parameterisations from it, and the tables of docs/design.md and
// specs/LANGUAGE.md §17.3 describe it. Nothing else decides these things.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lang/enum_table.hpp"

namespace spdec::lang {

struct Process;

/// The runtime's reading of a process (docs/design.md §2):
///   linear     closed-form Gaussian marginals per mode (under either semantics)
///   decoupled  X_t = Φ_t(x₀) + N(0, Σ̄_t) (`semantics decoupled`)
///   sde        the tamed Euler–Maruyama chain itself (`semantics sde`)
enum class ModelKind { linear, decoupled, sde };
inline constexpr EnumTable<ModelKind, 3> kModelKinds{{{
    {ModelKind::linear, "linear"},
    {ModelKind::decoupled, "decoupled"},
    {ModelKind::sde, "sde"},
}}};
[[nodiscard]] constexpr const char* name(ModelKind kind) { return kModelKinds.name(kind); }

enum class ObjectiveKind { exact, decoupled, local_dsm, sliced, flow_matching };
inline constexpr EnumTable<ObjectiveKind, 5> kObjectiveKinds{{{
    {ObjectiveKind::exact, "exact"},
    {ObjectiveKind::decoupled, "decoupled"},
    {ObjectiveKind::local_dsm, "local_dsm"},
    {ObjectiveKind::sliced, "sliced"},
    {ObjectiveKind::flow_matching, "flow_matching"},
}}};
[[nodiscard]] constexpr const char* name(ObjectiveKind kind) { return kObjectiveKinds.name(kind); }

/// What the network's output means: ε (noise) or x₀ (denoiser, per-mode EDM
/// preconditioning).
enum class Parameterisation { noise, denoiser };
inline constexpr EnumTable<Parameterisation, 2> kParameterisations{{{
    {Parameterisation::denoiser, "denoiser"},
    {Parameterisation::noise, "noise"},
}}};
[[nodiscard]] constexpr const char* name(Parameterisation p) { return kParameterisations.name(p); }

struct TrainingPlan {
  ModelKind model = ModelKind::sde;
  /// Objectives that are exact for this process, the preferred first.
  std::vector<ObjectiveKind> exact_objectives;
  /// Why the process cannot be trained at all (empty: it can).
  std::string refusal;
  /// X_t | x₀ = M_t x₀ + S_t ε with diagonal, x₀-free M_t, S_t in the
  /// process's basis: the denoiser parameterisation applies.
  bool per_mode_scales = false;
  /// Linear with M_t = m(t)·I: the drift reads u only pointwise (c(t)·u, or
  /// no drift), so every mode keeps the same share of x₀ and ε's estimate
  /// x̂₀ = (x_t − S_t ε̂)/m(t) amplifies no mode over another (VE, VP).
  bool uniform_scales = false;
  /// Decoupled: Σ̄_t is the same for every x₀ (the noise reads neither u nor
  /// u0), so it can be tabulated once and the flow taken by FED cycles.
  bool shared_variance = false;
  /// The reasons, in words, in the order check prints them.
  std::vector<std::string> reasons;

  [[nodiscard]] bool trainable() const { return refusal.empty(); }
  /// What `train.objective = "auto"` trains; nullopt when nothing can.
  [[nodiscard]] std::optional<ObjectiveKind> automatic_objective() const;
  /// Whether training accepts `objective`: the exact ones, and flow matching
  /// (which ignores the process except for the image shape).
  [[nodiscard]] bool accepts(ObjectiveKind objective) const;
  /// Every objective training accepts, the automatic one first.
  [[nodiscard]] std::vector<ObjectiveKind> accepted_objectives() const;
  /// Why `objective` is refused, naming what would work; empty if accepted.
  [[nodiscard]] std::string why_not(ObjectiveKind objective) const;
  /// What `model.parameterisation = "auto"` picks for `objective`.
  [[nodiscard]] Parameterisation automatic_parameterisation(ObjectiveKind objective) const;
  /// Why `parameterisation` cannot serve `objective`; empty if it can.
  [[nodiscard]] std::string why_not(Parameterisation parameterisation,
                                    ObjectiveKind objective) const;

  std::string process_name;  ///< for the messages
};

/// The plan of a checked and classified process (process.classification set).
[[nodiscard]] TrainingPlan plan_training(const Process& process);

}  // namespace spdec::lang
