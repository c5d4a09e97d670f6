// The enumerated keys of a run configuration: one enum and one table each
// (lang/enum_table.hpp). The table is the only list of spellings: the config
// parses a key through it once (its error lists the table's choices), writes
// the resolved TOML from it, and the runtime receives the enum and names it
// from the same table. Torch-free, like the rest of spdec_config.
//
// train.objective and model.parameterisation are not here: their enums live
// with the training plan.
#pragma once

#include <cstddef>

#include "lang/enum_table.hpp"

namespace spdec::config {

template <typename Enum, std::size_t N>
using ChoiceTable = lang::EnumTable<Enum, N>;

/// run.device: auto = CUDA when present.
enum class Device { automatic, cpu, cuda };
inline constexpr ChoiceTable<Device, 3> kDevices(
    {{{Device::automatic, "auto"}, {Device::cpu, "cpu"}, {Device::cuda, "cuda"}}});

/// process.semantics: declared keeps the file's.
enum class SemanticsChoice { declared, sde, decoupled };
inline constexpr ChoiceTable<SemanticsChoice, 3> kSemanticsChoices(
    {{{SemanticsChoice::declared, "declared"},
      {SemanticsChoice::sde, "sde"},
      {SemanticsChoice::decoupled, "decoupled"}}});

/// process.backend: generated kernels or the reference evaluator.
enum class Backend { automatic, compiled, reference };
inline constexpr ChoiceTable<Backend, 3> kBackends({{{Backend::automatic, "auto"},
                                                     {Backend::compiled, "compiled"},
                                                     {Backend::reference, "reference"}}});

/// process.flow: how a decoupled process computes Φ_t.
enum class Flow { automatic, explicit_steps, fed };
inline constexpr ChoiceTable<Flow, 3> kFlows(
    {{{Flow::automatic, "auto"}, {Flow::explicit_steps, "explicit"}, {Flow::fed, "fed"}}});

/// data.dataset: the format on disk.
enum class Dataset { fashion_mnist, idx, cifar10, folder };
inline constexpr ChoiceTable<Dataset, 4> kDatasets({{{Dataset::fashion_mnist, "fashion_mnist"},
                                                     {Dataset::idx, "idx"},
                                                     {Dataset::cifar10, "cifar10"},
                                                     {Dataset::folder, "folder"}}});

/// Whether the format has train and test splits (a folder or one IDX file is
/// the whole data set).
[[nodiscard]] constexpr bool has_splits(Dataset dataset) {
  return dataset == Dataset::fashion_mnist || dataset == Dataset::cifar10;
}

/// data.split, eval.split.
enum class Split { train, test };
inline constexpr ChoiceTable<Split, 2> kSplits({{{Split::train, "train"}, {Split::test, "test"}}});

/// The split that is not `split` (the held-out images, the noise floor's).
[[nodiscard]] constexpr Split other_split(Split split) {
  return split == Split::train ? Split::test : Split::train;
}

/// data.range: pixel values in [-1, 1] (0 → −1, 255 → 1) or [0, 1].
enum class ValueRange { minus_one_one, zero_one };
inline constexpr ChoiceTable<ValueRange, 2> kValueRanges({{{ValueRange::minus_one_one, "[-1,1]"},
                                                           {ValueRange::zero_one, "[0,1]"}}});

/// model.embedding: the U-Net's time embedding.
enum class TimeEmbedding { fourier, sinusoidal };
inline constexpr ChoiceTable<TimeEmbedding, 2> kTimeEmbeddings(
    {{{TimeEmbedding::fourier, "fourier"}, {TimeEmbedding::sinusoidal, "sinusoidal"}}});

/// model.time_input: what the network is told of the time — t / T, or
/// EDM's c_noise = ln σ̄(t) / 4 (σ̄ the process's root mean square noise
/// level, runtime/sampling/sigma_clock.hpp).
enum class TimeInput { time, log_sigma };
inline constexpr ChoiceTable<TimeInput, 2> kTimeInputs({{{TimeInput::time, "time"},
                                                         {TimeInput::log_sigma, "log_sigma"}}});

/// train.time_sampling: training times on [t0, T]; log_normal: EDM's
/// ln σ̄ ~ N(train.p_mean, train.p_std²), mapped to t (clamped to [t0, T]).
enum class TimeSampling { uniform, log_uniform, log_normal };
inline constexpr ChoiceTable<TimeSampling, 3> kTimeSamplings(
    {{{TimeSampling::uniform, "uniform"},
      {TimeSampling::log_uniform, "log_uniform"},
      {TimeSampling::log_normal, "log_normal"}}});

/// train.projections: sliced score matching's projections.
enum class Projections { rademacher, gaussian };
inline constexpr ChoiceTable<Projections, 2> kProjections({{{Projections::rademacher, "rademacher"},
                                                            {Projections::gaussian, "gaussian"}}});

/// train.prior: the Gaussian prior at T fitted into the checkpoint.
enum class PriorChoice { automatic, closed_form, gaussian_fit };
inline constexpr ChoiceTable<PriorChoice, 3> kPriorChoices(
    {{{PriorChoice::automatic, "auto"},
      {PriorChoice::closed_form, "closed_form"},
      {PriorChoice::gaussian_fit, "gaussian_fit"}}});

/// model.preconditioning: the data variance the denoiser's preconditioning
/// assumes — the fitted per-mode spectrum, its mean in every mode (a scalar
/// σ_d fitted to the data), or EDM's fixed σ_d = model.sigma_data with a
/// zero mean. auto = scalar.
enum class Preconditioning { automatic, spectrum, scalar, sigma_data };
inline constexpr ChoiceTable<Preconditioning, 4> kPreconditionings(
    {{{Preconditioning::automatic, "auto"},
      {Preconditioning::spectrum, "spectrum"},
      {Preconditioning::scalar, "scalar"},
      {Preconditioning::sigma_data, "sigma_data"}}});

/// train.weighting: how the denoiser's loss weighs the modes of its error
/// (runtime/training/objective_denoiser.cpp).
enum class LossWeighting { automatic, mode, pixel };
inline constexpr ChoiceTable<LossWeighting, 3> kLossWeightings({{{LossWeighting::automatic, "auto"},
                                                                 {LossWeighting::mode, "mode"},
                                                                 {LossWeighting::pixel, "pixel"}}});

/// sample.prior: where x_T comes from — the checkpoint's Gaussian or
/// training images pushed to T (runtime/sampling/data_prior.hpp).
enum class SamplePrior { automatic, fitted, simulate };
inline constexpr ChoiceTable<SamplePrior, 3> kSamplePriors({{{SamplePrior::automatic, "auto"},
                                                             {SamplePrior::fitted, "fitted"},
                                                             {SamplePrior::simulate, "simulate"}}});

/// sample.sampler.
enum class Sampler { automatic, pc, ode, ancestral, posterior, exponential, heun };
inline constexpr ChoiceTable<Sampler, 7> kSamplers({{{Sampler::automatic, "auto"},
                                                     {Sampler::pc, "pc"},
                                                     {Sampler::ode, "ode"},
                                                     {Sampler::ancestral, "ancestral"},
                                                     {Sampler::posterior, "posterior"},
                                                     {Sampler::exponential, "exponential"},
                                                     {Sampler::heun, "heun"}}});

/// sample.integrator: the ODE samplers' (and flow matching's) integrator.
enum class Integrator { euler, heun };
inline constexpr ChoiceTable<Integrator, 2> kIntegrators({{{Integrator::euler, "euler"},
                                                           {Integrator::heun, "heun"}}});

/// sample.grid: auto = ranked by the Gaussian oracle where it applies.
enum class GridChoice { automatic, uniform, power };
inline constexpr ChoiceTable<GridChoice, 3> kGridChoices({{{GridChoice::automatic, "auto"},
                                                           {GridChoice::uniform, "uniform"},
                                                           {GridChoice::power, "power"}}});

/// train.distributed.backend: the c10d process group of a job on several
/// ranks; auto = NCCL when the tensors are on CUDA and LibTorch has it, else
/// Gloo.
enum class DistributedBackend { automatic, gloo, nccl };
inline constexpr ChoiceTable<DistributedBackend, 3> kDistributedBackends(
    {{{DistributedBackend::automatic, "auto"},
      {DistributedBackend::gloo, "gloo"},
      {DistributedBackend::nccl, "nccl"}}});

/// eval.metrics' elements.
enum class Metric { fid, kid, is, precision_recall };
inline constexpr ChoiceTable<Metric, 4> kMetrics({{{Metric::fid, "fid"},
                                                   {Metric::kid, "kid"},
                                                   {Metric::is, "is"},
                                                   {Metric::precision_recall,
                                                    "precision_recall"}}});

[[nodiscard]] constexpr const char* name(Device v) { return kDevices.name(v); }
[[nodiscard]] constexpr const char* name(SemanticsChoice v) { return kSemanticsChoices.name(v); }
[[nodiscard]] constexpr const char* name(Backend v) { return kBackends.name(v); }
[[nodiscard]] constexpr const char* name(Flow v) { return kFlows.name(v); }
[[nodiscard]] constexpr const char* name(Dataset v) { return kDatasets.name(v); }
[[nodiscard]] constexpr const char* name(Split v) { return kSplits.name(v); }
[[nodiscard]] constexpr const char* name(ValueRange v) { return kValueRanges.name(v); }
[[nodiscard]] constexpr const char* name(TimeEmbedding v) { return kTimeEmbeddings.name(v); }
[[nodiscard]] constexpr const char* name(TimeSampling v) { return kTimeSamplings.name(v); }
[[nodiscard]] constexpr const char* name(TimeInput v) { return kTimeInputs.name(v); }
[[nodiscard]] constexpr const char* name(Projections v) { return kProjections.name(v); }
[[nodiscard]] constexpr const char* name(PriorChoice v) { return kPriorChoices.name(v); }
[[nodiscard]] constexpr const char* name(Preconditioning v) { return kPreconditionings.name(v); }
[[nodiscard]] constexpr const char* name(LossWeighting v) { return kLossWeightings.name(v); }
[[nodiscard]] constexpr const char* name(SamplePrior v) { return kSamplePriors.name(v); }
[[nodiscard]] constexpr const char* name(Sampler v) { return kSamplers.name(v); }
[[nodiscard]] constexpr const char* name(Integrator v) { return kIntegrators.name(v); }
[[nodiscard]] constexpr const char* name(GridChoice v) { return kGridChoices.name(v); }
[[nodiscard]] constexpr const char* name(Metric v) { return kMetrics.name(v); }
[[nodiscard]] constexpr const char* name(DistributedBackend v) {
  return kDistributedBackends.name(v);
}

}  // namespace spdec::config
