// NumPy .npy output (issue 4): exact version-1.0 header bytes as numpy writes
// them (numpy/lib/format.py), round trips, atomic replacement, bad files.
#include <unistd.h>

#include <fstream>
#include <string>

#include "runtime/base/data_error.hpp"
#include "runtime/base/npy.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace spdec::runtime;

using spdec::test::read_bytes;

namespace {

fs::path temp_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("spdec-npy-test-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("npy: the header of a (2, 3) float32 array is numpy's, byte for byte", "[runtime][npy]") {
  spdec::test::torch_setup();
  // format.py: MAGIC "\x93NUMPY", version 1.0, u16 LE header length, the dict
  // repr, spaces, '\n'; 10 + 59 + 58 + 1 = 128, a multiple of 64.
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  REQUIRE(dict.size() == 59);
  const std::string expected =
      std::string("\x93NUMPY\x01\x00\x76\x00", 10) + dict + std::string(58, ' ') + "\n";
  CHECK(npy_preamble({2, 3}) == expected);
  CHECK(npy_preamble({2, 3}).size() == 128);

  const fs::path dir = temp_dir("header");
  const at::Tensor x = at::arange(6, spdec::test::f32()).reshape({2, 3}) * 0.5;
  write_npy(dir / "a.npy", x);
  const std::string bytes = read_bytes(dir / "a.npy");
  REQUIRE(bytes.size() == 128 + 6 * 4);
  CHECK(bytes.substr(0, 128) == expected);
  // Little-endian float32 1.5 = 0x3fc00000 at element 3.
  CHECK(bytes.substr(128 + 3 * 4, 4) == std::string("\x00\x00\xc0\x3f", 4));
  fs::remove_all(dir);
}

TEST_CASE("npy: tuple spelling and alignment for every rank", "[runtime][npy]") {
  CHECK(npy_preamble({5}).find("'shape': (5,), }") != std::string::npos);
  CHECK(npy_preamble({}).find("'shape': (), }") != std::string::npos);
  CHECK(npy_preamble({7, 2, 1, 28, 28}).find("'shape': (7, 2, 1, 28, 28), }") != std::string::npos);
  for (const std::vector<std::int64_t>& shape :
       {std::vector<std::int64_t>{}, {1}, {12345678}, {3, 4}, {10, 64, 3, 32, 32}}) {
    const std::string p = npy_preamble(shape);
    CHECK(p.size() % 64 == 0);
    CHECK(p.back() == '\n');
    const std::size_t len =
        static_cast<unsigned char>(p[8]) | (static_cast<unsigned char>(p[9]) << 8);
    CHECK(len + 10 == p.size());
  }
}

TEST_CASE("npy: round trip of float32, float64 (written as float32) and shapes", "[runtime][npy]") {
  spdec::test::torch_setup();
  const fs::path dir = temp_dir("roundtrip");
  const at::Tensor x = at::randn({3, 2, 1, 4, 5}, spdec::test::f32());
  write_npy(dir / "x.npy", x);
  const at::Tensor y = read_npy(dir / "x.npy");
  CHECK(y.scalar_type() == at::kFloat);
  CHECK(y.sizes() == x.sizes());
  CHECK(y.equal(x));
  // A non-contiguous double tensor is written as C-order float32.
  const at::Tensor d = at::randn({4, 3}, spdec::test::f64()).t();
  write_npy(dir / "x.npy", d);  // replaces the old file atomically
  const at::Tensor e = read_npy(dir / "x.npy");
  CHECK(e.sizes() == at::IntArrayRef({3, 4}));
  CHECK(spdec::test::max_abs_diff(e, d) < 1e-6);
  write_npy(dir / "s.npy", at::scalar_tensor(2.5, spdec::test::f32()));
  CHECK(read_npy(dir / "s.npy").dim() == 0);
  CHECK(read_npy(dir / "s.npy").item<float>() == 2.5F);
  write_npy(dir / "empty.npy", at::zeros({0, 3}, spdec::test::f32()));
  CHECK(read_npy(dir / "empty.npy").sizes() == at::IntArrayRef({0, 3}));
  // No temporary files left behind.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++files;
  CHECK(files == 3);
  fs::remove_all(dir);
}

TEST_CASE("npy: bad files name the file", "[runtime][npy]") {
  spdec::test::torch_setup();
  const fs::path dir = temp_dir("bad");
  auto expect = [](const fs::path& file, const std::string& problem) {
    try {
      read_npy(file);
      FAIL("no error for " << file);
    } catch (const DataError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(file.string()) != std::string::npos);
      CHECK(std::string(e.what()).find(problem) != std::string::npos);
    }
  };
  expect(dir / "missing.npy", "no such file");
  { std::ofstream(dir / "text.npy") << "hello"; }
  expect(dir / "text.npy", "not a .npy file");
  write_npy(dir / "cut.npy", at::ones({4, 4}, spdec::test::f32()));
  const std::string bytes = read_bytes(dir / "cut.npy");
  {
    std::ofstream out(dir / "cut.npy", std::ios::binary | std::ios::trunc);
    out << bytes.substr(0, bytes.size() - 4);
  }
  expect(dir / "cut.npy", "needs 64");
  std::string fortran = bytes;
  fortran.replace(fortran.find("False"), 5, "True ");
  {
    std::ofstream out(dir / "f.npy", std::ios::binary | std::ios::trunc);
    out << fortran;
  }
  expect(dir / "f.npy", "Fortran");
  fs::remove_all(dir);
}
