// Helpers shared by the runtime tests.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lang/check.hpp"
#include "lang/diagnostics.hpp"
#include "lang/process.hpp"
#include "lang/source.hpp"

namespace spdec::test {

/// Two intra-op threads (CTest may run several test processes at once) and a
/// fixed seed; call first in every test case that uses LibTorch.
inline void torch_setup(std::uint64_t seed = 20240917, int threads = 2) {
  at::set_num_threads(threads);
  at::manual_seed(seed);
}

inline at::TensorOptions f64() { return at::TensorOptions().dtype(at::kDouble); }
inline at::TensorOptions f32() { return at::TensorOptions().dtype(at::kFloat); }

/// A file's bytes, as written.
inline std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// max |a − b|, in double.
inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

/// A checked process from source text; fails the test (with the diagnostics)
/// when it does not check.
inline lang::Process check_process(const std::string& text) {
  lang::Diagnostics diagnostics;
  auto file = std::make_shared<const lang::SourceFile>("test.spde", text);
  std::optional<lang::Process> process = lang::check_source(file, {}, diagnostics);
  INFO(lang::render_all(diagnostics));
  REQUIRE(process.has_value());
  return *process;
}

/// A checked process from a file under the source tree (e.g. "library/ve.spde").
inline lang::Process check_library_file(const std::string& relative) {
  lang::Diagnostics diagnostics;
  std::optional<lang::Process> process = lang::check_file(
      (std::filesystem::path(SPDEC_SOURCE_DIR) / relative).string(), {}, diagnostics);
  INFO(lang::render_all(diagnostics));
  REQUIRE(process.has_value());
  return *process;
}

/// The five-point Laplacian of u [..., H, W] with ghost values by clamped
/// indices (neumann) or wrap-around (periodic), written directly from
/// specs/LANGUAGE.md §12–13.3 with shifted copies: an oracle independent of
/// the spectral code.
inline at::Tensor five_point_laplacian(const at::Tensor& u, bool periodic) {
  const std::int64_t h = u.size(-2);
  const std::int64_t w = u.size(-1);
  auto neighbour = [&](std::int64_t dim, std::int64_t n, std::int64_t step) {
    at::Tensor index = at::arange(n, at::TensorOptions().dtype(at::kLong)) + step;
    index = periodic ? at::remainder(index, n) : at::clamp(index, 0, n - 1);
    return u.index_select(dim, index);
  };
  return neighbour(-1, w, 1) + neighbour(-1, w, -1) + neighbour(-2, h, 1) + neighbour(-2, h, -1) -
         4.0 * u;
}

/// The dense matrix of a linear operator on H × W images: row r is op(e_r)
/// flattened, so it equals the operator's matrix when that is symmetric (and
/// its transpose otherwise). Double precision.
template <typename Op>
at::Tensor dense_matrix(std::int64_t h, std::int64_t w, Op&& op) {
  const at::Tensor basis = at::eye(h * w, f64()).reshape({h * w, 1, h, w});
  return op(basis).reshape({h * w, h * w});
}

/// The least-squares slope of log(err) against log(dt): a convergence order.
inline double loglog_slope(const std::vector<double>& dt, const std::vector<double>& err) {
  double mx = 0;
  double my = 0;
  const auto n = static_cast<double>(dt.size());
  for (std::size_t i = 0; i < dt.size(); ++i) {
    mx += std::log(dt[i]) / n;
    my += std::log(err[i]) / n;
  }
  double sxy = 0;
  double sxx = 0;
  for (std::size_t i = 0; i < dt.size(); ++i) {
    sxy += (std::log(dt[i]) - mx) * (std::log(err[i]) - my);
    sxx += (std::log(dt[i]) - mx) * (std::log(dt[i]) - mx);
  }
  return sxy / sxx;
}

}  // namespace spdec::test
