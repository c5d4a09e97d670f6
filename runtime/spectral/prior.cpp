#include "runtime/spectral/prior.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <string>

#include "lang/os_reason.hpp"
#include "runtime/base/atomic_write.hpp"
#include "runtime/base/data_error.hpp"

namespace spdec::runtime {

namespace {

static_assert(std::endian::native == std::endian::little, "prior files are little-endian");

constexpr const char* kMagic = "SPDECPRIOR";

/// |c|² for real or complex coefficients, in double.
at::Tensor squared_magnitude(const at::Tensor& c) {
  return c.is_complex() ? at::abs(c).square() : c.square();
}

}  // namespace

GaussianPrior::GaussianPrior(SpectralBasis basis, const at::Tensor& mean,
                             const at::Tensor& variance)
    : basis_(basis),
      mean_(mean.to(at::kCPU, at::kDouble).contiguous()),
      variance_(variance.to(at::kCPU, at::kDouble).contiguous()) {
  auto shape_ok = [&](const at::Tensor& t) {
    return t.dim() == 3 && t.size(0) >= 1 && t.size(1) == basis_.height() &&
           t.size(2) == basis_.width();
  };
  if (!shape_ok(mean_) || !shape_ok(variance_) || mean_.size(0) != variance_.size(0)) {
    throw std::invalid_argument("GaussianPrior: mean and variance must both be [C, " +
                                std::to_string(basis_.height()) + ", " +
                                std::to_string(basis_.width()) + "]");
  }
  if (!at::isfinite(mean_).all().item<bool>()) {
    throw std::invalid_argument("GaussianPrior: the mean is not finite");
  }
  if (!(at::isfinite(variance_) & (variance_ >= 0)).all().item<bool>()) {
    throw std::invalid_argument("GaussianPrior: the variance must be finite and >= 0");
  }
}

at::Tensor GaussianPrior::sample(std::int64_t n, std::uint64_t seed) const {
  if (n < 0) throw std::invalid_argument("GaussianPrior::sample: n < 0");
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor xi = at::randn({n, channels(), basis_.height(), basis_.width()}, generator,
                                  at::TensorOptions().dtype(at::kDouble));
  return transform_white(xi);
}

at::Tensor GaussianPrior::transform_white(const at::Tensor& xi) const {
  basis_.check_image(xi, "GaussianPrior::transform_white");
  if (xi.dim() != 4 || xi.size(1) != channels()) {
    throw std::invalid_argument("GaussianPrior::transform_white: xi must be [N, " +
                                std::to_string(channels()) + ", H, W]");
  }
  const at::Tensor x = xi.to(at::kDouble);
  return mean_.to(x.device()).unsqueeze(0) + basis_.multiply(x, variance_.sqrt());
}

at::Tensor GaussianPrior::log_prob(const at::Tensor& x) const {
  basis_.check_image(x, "GaussianPrior::log_prob");
  if (x.dim() != 4 || x.size(1) != channels()) {
    throw std::invalid_argument("GaussianPrior::log_prob: x must be [N, " +
                                std::to_string(channels()) + ", H, W]");
  }
  const at::Tensor c = basis_.transform(x.to(at::kCPU, at::kDouble) - mean_.unsqueeze(0));
  const at::Tensor quad = (squared_magnitude(c) / variance_.unsqueeze(0)).sum({1, 2, 3});
  const auto log_det = at::log(2 * std::numbers::pi * variance_).sum().item<double>();
  return -0.5 * (quad + log_det);
}

void GaussianPrior::save(const std::filesystem::path& file) const {
  std::ostringstream header;
  header << kMagic << " 1 " << name(basis_.kind()) << ' ' << channels() << ' ' << basis_.height()
         << ' ' << basis_.width() << '\n';
  std::string bytes = header.str();
  const auto count = static_cast<std::size_t>(mean_.numel());
  const std::size_t offset = bytes.size();
  bytes.resize(offset + 2 * count * sizeof(double));
  std::memcpy(bytes.data() + offset, mean_.data_ptr<double>(), count * sizeof(double));
  std::memcpy(bytes.data() + offset + count * sizeof(double), variance_.data_ptr<double>(),
              count * sizeof(double));
  write_file_atomically(file, bytes);
}

GaussianPrior GaussianPrior::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DataError(file, "cannot open the prior file: " + lang::os_reason());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t newline = bytes.find('\n');
  if (newline > 200) {  // npos included: no header line
    throw DataError(file, "not a prior file (no header line)");
  }
  std::istringstream header(bytes.substr(0, newline));
  std::string magic;
  int version = 0;
  std::string kind;
  std::int64_t c = 0;
  std::int64_t h = 0;
  std::int64_t w = 0;
  if (!(header >> magic >> version >> kind >> c >> h >> w) || magic != kMagic) {
    throw DataError(file, "not a prior file (bad header)");
  }
  std::string rest;
  if (header >> rest) throw DataError(file, "not a prior file (trailing header text)");
  if (version != 1)
    throw DataError(file, "unsupported prior file version " + std::to_string(version));
  BasisKind basis_kind = BasisKind::dct;
  if (kind == name(BasisKind::dct)) {
    basis_kind = BasisKind::dct;
  } else if (kind == name(BasisKind::fft)) {
    basis_kind = BasisKind::fft;
  } else {
    throw DataError(file, "unknown basis '" + kind + "'");
  }
  constexpr std::int64_t kMaxSide = 1 << 16;
  if (c < 1 || h < 1 || w < 1 || c > 4096 || h > kMaxSide || w > kMaxSide) {
    throw DataError(file, "implausible shape in the header");
  }
  const auto count = static_cast<std::size_t>(c * h * w);
  const std::size_t expected = newline + 1 + 2 * count * sizeof(double);
  if (bytes.size() != expected) {
    throw DataError(file, "size " + std::to_string(bytes.size()) + " bytes, expected " +
                              std::to_string(expected) + " (truncated or corrupt)");
  }
  const auto options = at::TensorOptions().dtype(at::kDouble);
  at::Tensor mean = at::empty({c, h, w}, options);
  at::Tensor variance = at::empty({c, h, w}, options);
  std::memcpy(mean.data_ptr<double>(), bytes.data() + newline + 1, count * sizeof(double));
  std::memcpy(variance.data_ptr<double>(), bytes.data() + newline + 1 + count * sizeof(double),
              count * sizeof(double));
  try {
    return {SpectralBasis(basis_kind, h, w), mean, variance};
  } catch (const std::invalid_argument& error) {
    throw DataError(file, error.what());
  }
}

GaussianPrior gaussian_fit(const at::Tensor& x, const SpectralBasis& basis) {
  basis.check_image(x, "gaussian_fit");
  if (x.dim() != 4 || x.size(0) < 2) {
    throw std::invalid_argument("gaussian_fit: samples must be [N, C, H, W] with N >= 2");
  }
  const at::Tensor xd = x.to(at::kCPU, at::kDouble);
  const at::Tensor mean = xd.mean(0);
  const at::Tensor c = basis.transform(xd - mean.unsqueeze(0));
  const at::Tensor variance = squared_magnitude(c).sum(0) / static_cast<double>(x.size(0) - 1);
  return {basis, mean, variance};
}

GaussianPrior closed_form(const LinearProcess& process, double t, std::int64_t channels,
                          const std::optional<at::Tensor>& data_mean) {
  if (channels < 1) throw std::invalid_argument("closed_form: channels < 1");
  const SpectralBasis& basis = process.basis();
  const auto options = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor variance = process.variance(t).unsqueeze(0).expand({channels, -1, -1});
  at::Tensor mean = at::zeros({channels, basis.height(), basis.width()}, options);
  if (data_mean.has_value()) {
    const at::Tensor& mu = *data_mean;
    if (mu.dim() != 3 || mu.size(0) != channels) {
      throw std::invalid_argument("closed_form: the data mean must be [" +
                                  std::to_string(channels) + ", H, W]");
    }
    basis.check_image(mu, "closed_form");
    mean = basis.multiply(mu.to(at::kCPU, at::kDouble), process.mean_factor(t));
  }
  return {basis, mean, variance};
}

double survival_share(const LinearProcess& process, double t, const at::Tensor& data_variance) {
  process.basis().check_image(data_variance, "survival_share");
  if (data_variance.dim() != 2 && data_variance.dim() != 3) {
    throw std::invalid_argument("survival_share: the data variance must be [H, W] or [C, H, W]");
  }
  const at::Tensor d = data_variance.to(at::kCPU, at::kDouble);
  const std::int64_t channels = d.dim() == 3 ? d.size(0) : 1;
  const at::Tensor m = process.mean_factor(t);
  const auto kept = (m.square() * d).sum().item<double>();
  const double noise = process.variance(t).sum().item<double>() * static_cast<double>(channels);
  if (!(kept + noise > 0)) {
    throw std::invalid_argument("survival_share: no variance at all at t (data and noise are 0)");
  }
  return kept / (kept + noise);
}

}  // namespace spdec::runtime
