// Data sets (issue 4): IDX (plain and gzip), Fashion-MNIST when installed,
// CIFAR-10 binary batches, image folders, the transforms and the prefetching
// loader. Every bad input must give a DataError whose message names the file.
#include <stb_image_write.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "runtime/base/data_error.hpp"
#include "runtime/data/batch_loader.hpp"
#include "runtime/data/cifar.hpp"
#include "runtime/data/dataset.hpp"
#include "runtime/data/idx.hpp"
#include "runtime/data/image_folder.hpp"
#include "runtime/data/image_grid.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace spdec::runtime;

namespace {

// A fresh, empty folder per test case.
fs::path temp_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("spdec-data-test-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_gz(const fs::path& file, const std::string& bytes) {
  gzFile gz = gzopen(file.c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}

// Expects `body` to throw a DataError whose message names `file` and contains `problem`.
template <typename F>
void require_data_error(F&& body, const fs::path& file, const std::string& problem) {
  try {
    body();
    FAIL("no error for " << file);
  } catch (const DataError& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find(file.string()) != std::string::npos);
    CHECK(message.find(problem) != std::string::npos);
  }
}

std::vector<std::uint8_t> ramp(std::size_t n, int mul = 7) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * mul) % 251);
  return v;
}

// Writes images [n, rows, cols] and labels [m] as IDX files with the given extension.
std::pair<fs::path, fs::path> write_idx_pair(const fs::path& dir, const std::string& ext,
                                             std::int64_t n, std::int64_t m) {
  const fs::path images = dir / ("images.idx" + ext);
  const fs::path labels = dir / ("labels.idx" + ext);
  write_idx(images, {n, 4, 5}, ramp(static_cast<std::size_t>(n * 20)));
  std::vector<std::uint8_t> l(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < m; ++i)
    l[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i % 10);
  write_idx(labels, {m}, l);
  return {images, labels};
}

}  // namespace

TEST_CASE("data: Fashion-MNIST from the Debian package loads with its documented sizes",
          "[runtime][data]") {
  spdec::test::torch_setup();
  if (!fs::exists(fs::path(kFashionMnistDir) / "train-images-idx3-ubyte.gz")) {
    WARN("skipped: " << kFashionMnistDir
                     << " not installed (apt-get install dataset-fashion-mnist)");
    return;
  }
  DatasetSpec spec;
  const Dataset train = load_dataset(spec);
  CHECK(train.images.sizes() == at::IntArrayRef({60000, 1, 28, 28}));
  CHECK(train.images.scalar_type() == at::kByte);
  CHECK(train.labels.sizes() == at::IntArrayRef({60000}));
  CHECK(train.labels.min().item<std::int64_t>() == 0);
  CHECK(train.labels.max().item<std::int64_t>() == 9);
  // Balanced: 6000 per class.
  CHECK(at::bincount(train.labels).eq(6000).all().item<bool>());
  CHECK(train.images.max().item<int>() == 255);

  spec.split = spdec::config::Split::test;
  spec.size = 32;
  spec.range = ValueRange::zero_one;
  const Dataset test = load_dataset(spec);
  CHECK(test.images.sizes() == at::IntArrayRef({10000, 1, 32, 32}));
  CHECK(test.labels.size(0) == 10000);
  // 28 → 32 by centred padding: a 2-pixel background border.
  CHECK(test.images.narrow(2, 0, 2).eq(0).all().item<bool>());
  CHECK(test.images.narrow(3, 30, 2).eq(0).all().item<bool>());
  const at::Tensor x = test.to_float();
  CHECK(x.min().item<float>() >= 0.0F);
  CHECK(x.max().item<float>() == 1.0F);
}

TEST_CASE("data: IDX round trip, plain and gzip", "[runtime][data]") {
  spdec::test::torch_setup();
  const fs::path dir = temp_dir("idx-roundtrip");
  for (const std::string ext : {"", ".gz"}) {
    INFO("extension '" << ext << "'");
    const auto [images, labels] = write_idx_pair(dir, ext, 3, 3);
    if (ext == ".gz") CHECK(read_bytes(images).substr(0, 2) == "\x1f\x8b");  // really gzip
    const IdxArray raw = read_idx(images);
    CHECK(raw.magic == kIdxImagesMagic);
    CHECK(raw.dims == std::vector<std::int64_t>{3, 4, 5});
    CHECK(raw.data == ramp(60));
    const Dataset data = load_idx_pair(images, labels);
    CHECK(data.images.sizes() == at::IntArrayRef({3, 1, 4, 5}));
    CHECK(data.images[2][0][3][4].item<int>() == (59 * 7) % 251);
    CHECK(data.labels.scalar_type() == at::kLong);
    CHECK(data.labels[2].item<std::int64_t>() == 2);

    DatasetSpec spec;
    spec.kind = spdec::config::Dataset::idx;
    spec.path = images;  // no labels: −1
    const Dataset unlabelled = load_dataset(spec);
    CHECK(unlabelled.labels.eq(-1).all().item<bool>());
  }
  fs::remove_all(dir);
}

TEST_CASE("data: IDX bad input names the file and the problem", "[runtime][data]") {
  spdec::test::torch_setup();
  const fs::path dir = temp_dir("idx-bad");
  const std::string header =
      std::string("\x00\x00\x08\x03", 4) + std::string("\x00\x00\x00\x02", 4) +
      std::string("\x00\x00\x00\x04", 4) + std::string("\x00\x00\x00\x05", 4);

  SECTION("missing file") {
    const fs::path file = dir / "nope-images-idx3-ubyte.gz";
    require_data_error([&] { read_idx_images(file); }, file, "no such file");
    DatasetSpec spec;
    spec.path = dir;  // a Fashion-MNIST folder without the files
    require_data_error([&] { load_dataset(spec); }, dir / "train-images-idx3-ubyte.gz",
                       "no such file");
  }
  SECTION("wrong magic") {
    const fs::path file = dir / "magic.idx";
    write_bytes(file, std::string("\x00\x00\x0d\x03", 4) + header.substr(4) + std::string(40, 'x'));
    require_data_error([&] { read_idx_images(file); }, file, "wrong magic 0x00000d03");
    const fs::path text = dir / "text.idx.gz";
    write_gz(text, "hello, world: this is not an IDX file\n");
    require_data_error([&] { read_idx(text); }, text, "wrong magic");
    // A label file where images are expected.
    const fs::path labels = dir / "labels.idx";
    write_idx(labels, {3}, {1, 2, 3});
    require_data_error([&] { read_idx_images(labels); }, labels, "wrong magic 0x00000801");
    require_data_error([&] { read_idx_labels(dir / "magic.idx"); }, dir / "magic.idx",
                       "wrong magic");
  }
  SECTION("truncated, plain") {
    const fs::path file = dir / "short.idx";
    write_bytes(file, header + std::string(39, 'x'));  // needs 40
    require_data_error([&] { read_idx_images(file); }, file, "truncated");
    const fs::path tiny = dir / "tiny.idx";
    write_bytes(tiny, header.substr(0, 9));
    require_data_error([&] { read_idx_images(tiny); }, tiny, "truncated");
    const fs::path longer = dir / "long.idx";
    write_bytes(longer, header + std::string(41, 'x'));
    require_data_error([&] { read_idx_images(longer); }, longer, "after the data");
  }
  SECTION("truncated, gzip: the stream is complete but holds too few bytes") {
    const fs::path file = dir / "short.idx.gz";
    write_gz(file, header + std::string(39, 'x'));
    require_data_error([&] { read_idx_images(file); }, file, "truncated");
  }
  SECTION("truncated, gzip: the compressed file itself is cut") {
    const fs::path whole = dir / "whole.idx.gz";
    write_idx(whole, {50, 28, 28}, ramp(50 * 28 * 28, 131));
    const std::string bytes = read_bytes(whole);
    const fs::path cut = dir / "cut.idx.gz";
    write_bytes(cut, bytes.substr(0, bytes.size() / 2));
    require_data_error([&] { read_idx_images(cut); }, cut, "truncated");
  }
  SECTION("absurd sizes in a corrupt header fail before allocating") {
    const fs::path file = dir / "huge.idx";
    write_bytes(file, std::string("\x00\x00\x08\x03", 4) + std::string("\xff\xff\xff\xff", 4) +
                          std::string("\xff\xff\xff\xff", 4) + std::string("\x00\x00\x00\x10", 4) +
                          std::string(64, 'x'));
    require_data_error([&] { read_idx_images(file); }, file, "absurd dimensions");
    const fs::path gz = dir / "big.idx.gz";  // plausible total, but not there
    write_gz(gz, std::string("\x00\x00\x08\x03", 4) + std::string("\x00\x10\x00\x00", 4) +
                     std::string("\x00\x00\x01\x00", 4) + std::string("\x00\x00\x01\x00", 4) +
                     std::string(100, 'x'));
    require_data_error([&] { read_idx_images(gz); }, gz, "truncated");
  }
  SECTION("image and label counts disagree") {
    const auto [images, labels] = write_idx_pair(dir, ".gz", 4, 3);
    require_data_error([&] { load_idx_pair(images, labels); }, labels,
                       "holds 3 labels but " + images.string() + " holds 4 images");
  }
  fs::remove_all(dir);
}

TEST_CASE("data: CIFAR-10 binary batches", "[runtime][data]") {
  spdec::test::torch_setup();
  const fs::path dir = temp_dir("cifar");
  auto record = [](int label, int fill) {
    std::string r(static_cast<std::size_t>(kCifarRecordBytes), static_cast<char>(fill));
    r[0] = static_cast<char>(label);
    r[1 + 1024] = static_cast<char>(200);  // green channel, pixel (0, 0)
    return r;
  };
  for (int i = 1; i <= 5; ++i) {
    write_bytes(dir / ("data_batch_" + std::to_string(i) + ".bin"),
                record(i, 10 * i) + record(9, 1));
  }
  write_bytes(dir / "test_batch.bin", record(3, 5));

  DatasetSpec spec;
  spec.kind = spdec::config::Dataset::cifar10;
  spec.path = dir;
  const Dataset train = load_dataset(spec);
  CHECK(train.images.sizes() == at::IntArrayRef({10, 3, 32, 32}));
  CHECK(train.labels[0].item<std::int64_t>() == 1);
  CHECK(train.labels[1].item<std::int64_t>() == 9);
  CHECK(train.labels[8].item<std::int64_t>() == 5);
  CHECK(train.images[0][0][0][0].item<int>() == 10);
  CHECK(train.images[0][1][0][0].item<int>() == 200);  // channel-major
  CHECK(train.images[0][1][0][1].item<int>() == 10);
  spec.split = spdec::config::Split::test;
  spec.channels = 1;
  const Dataset test = load_dataset(spec);
  CHECK(test.images.sizes() == at::IntArrayRef({1, 1, 32, 32}));

  SECTION("a file of the wrong size") {
    const fs::path bad = dir / "data_batch_3.bin";
    write_bytes(bad, record(1, 1) + "xyz");
    spec.split = spdec::config::Split::train;
    require_data_error([&] { load_dataset(spec); }, bad, "not a positive multiple of");
  }
  SECTION("a missing batch") {
    fs::remove(dir / "data_batch_4.bin");
    spec.split = spdec::config::Split::train;
    require_data_error([&] { load_dataset(spec); }, dir / "data_batch_4.bin", "no such file");
  }
  SECTION("a label out of range") {
    const fs::path bad = dir / "test_batch.bin";
    write_bytes(bad, record(12, 1));
    require_data_error([&] { read_cifar10_batch(bad); }, bad, "label 12");
  }
  fs::remove_all(dir);
}

TEST_CASE("data: image folders (PNG, JPEG), channels, sizes, bad files", "[runtime][data]") {
  spdec::test::torch_setup();
  const fs::path dir = temp_dir("folder");
  // b.png: 3-channel 6×8 ramp; a.png: grey 6×8; c.jpg written by stb from a flat colour.
  at::Tensor rgb = at::arange(3 * 6 * 8, at::TensorOptions().dtype(at::kInt))
                       .remainder(256)
                       .to(at::kByte)
                       .reshape({3, 6, 8});
  write_png(dir / "b.png", rgb);
  write_png(dir / "a.png", at::full({1, 6, 8}, 77, at::TensorOptions().dtype(at::kByte)));
  write_png(dir / ".hidden.png", at::full({1, 2, 2}, 1, at::TensorOptions().dtype(at::kByte)));

  DatasetSpec spec;
  spec.kind = spdec::config::Dataset::folder;
  spec.path = dir;
  Dataset data = load_dataset(spec);
  REQUIRE(data.images.sizes() == at::IntArrayRef({2, 3, 6, 8}));
  CHECK(data.images[0].eq(77).all().item<bool>());  // a.png first (sorted), grey → RGB
  CHECK(spdec::test::max_abs_diff(data.images[1], rgb) == 0.0);
  CHECK(data.labels.eq(-1).all().item<bool>());
  spec.channels = 1;
  data = load_dataset(spec);
  CHECK(data.images.sizes() == at::IntArrayRef({2, 1, 6, 8}));
  CHECK(data.images[0].eq(77).all().item<bool>());

  // A one-channel read owns its pixels: stb's buffer is freed on return, and
  // the next read reuses it (a view of it would now show the second image).
  const at::Tensor ramp = at::arange(48, at::TensorOptions().dtype(at::kByte)).reshape({1, 6, 8});
  write_png(dir / "ramp.png", ramp);
  const at::Tensor first = read_image(dir / "ramp.png", 1);
  const at::Tensor second = read_image(dir / "a.png", 1);
  CHECK(spdec::test::max_abs_diff(first, ramp) == 0.0);
  CHECK(second.eq(77).all().item<bool>());
  fs::remove(dir / "ramp.png");

  SECTION("differing sizes: an error without a size, resized with one") {
    write_png(dir / "d.png", at::full({3, 10, 10}, 9, at::TensorOptions().dtype(at::kByte)));
    spec.channels = 3;
    require_data_error([&] { load_dataset(spec); }, dir / "d.png", "10x10");
    spec.size = 16;
    spec.resize = ResizeMode::bilinear;
    data = load_dataset(spec);
    CHECK(data.images.sizes() == at::IntArrayRef({3, 3, 16, 16}));
    CHECK(data.images[2].eq(9).all().item<bool>());  // bilinear keeps a constant image
  }
  SECTION("files without an image extension and subfolders are skipped, and counted") {
    // A README or a labels file beside the images must not abort a run.
    write_bytes(dir / "notes.txt", "not an image\n");
    write_bytes(dir / "labels.csv", "a,0\n");
    fs::create_directories(dir / "more");
    write_png(dir / "more" / "e.png", at::full({1, 6, 8}, 5, at::TensorOptions().dtype(at::kByte)));
    write_png(dir / "UPPER.PNG", at::full({1, 6, 8}, 9, at::TensorOptions().dtype(at::kByte)));
    data = load_dataset(spec);
    CHECK(data.images.size(0) == 3);  // UPPER.PNG, a.png, b.png
    REQUIRE(data.notes.size() == 1);
    CHECK(data.notes[0] == dir.string() +
                               ": skipped 2 files without an image extension (labels.csv, "
                               "notes.txt) and 1 subfolder (a folder data set is flat)");
    const ImageFolderListing listing = list_image_files(dir);
    CHECK(listing.files.size() == 3);
    CHECK(listing.skipped.size() == 2);
    CHECK(listing.folders == 1);
  }
  SECTION("a file with an image extension that does not decode is an error naming it") {
    write_bytes(dir / "notes.png", "not an image\n");
    require_data_error([&] { load_dataset(spec); }, dir / "notes.png", "not a readable image");
    require_data_error([&] { load_dataset(spec); }, dir / "notes.png", "remove it from the folder");
  }
  SECTION("a folder of nothing but other files") {
    const fs::path other = temp_dir("folder-other");
    write_bytes(other / "notes.txt", "not an image\n");
    spec.path = other;
    require_data_error([&] { load_dataset(spec); }, other, "holds no image files");
    require_data_error([&] { load_dataset(spec); }, other, "notes.txt");
    fs::remove_all(other);
  }
  SECTION("a truncated PNG") {
    // Corrupt, with an image extension: an error, not skipped.
    const std::string png = read_bytes(dir / "b.png");
    write_bytes(dir / "b.png", png.substr(0, png.size() / 2));
    require_data_error([&] { load_dataset(spec); }, dir / "b.png", "not a readable image");
  }
  SECTION("a JPEG beside the PNGs") {
    // stb_image_write's implementation is compiled into spdec_runtime (image_grid.cpp).
    std::vector<std::uint8_t> flat(6 * 8 * 3);
    for (std::size_t i = 0; i < flat.size(); i += 3) {
      flat[i] = 200;
      flat[i + 1] = 100;
      flat[i + 2] = 50;
    }
    REQUIRE(stbi_write_jpg((dir / "c.jpg").c_str(), 8, 6, 3, flat.data(), 95) != 0);
    spec.channels = 3;
    data = load_dataset(spec);
    REQUIRE(data.images.sizes() == at::IntArrayRef({3, 3, 6, 8}));
    // A flat colour survives JPEG to within a few levels.
    const at::Tensor expected = at::tensor({200, 100, 50}, at::TensorOptions().dtype(at::kInt))
                                    .reshape({3, 1, 1})
                                    .expand({3, 6, 8});
    CHECK(spdec::test::max_abs_diff(data.images[2], expected) <= 3.0);
  }
  SECTION("a missing folder") {
    spec.path = dir / "nowhere";
    require_data_error([&] { load_dataset(spec); }, dir / "nowhere", "no such folder");
  }
  fs::remove_all(dir);
}

TEST_CASE("data: value range, resize or pad, flips", "[runtime][data]") {
  spdec::test::torch_setup();
  const at::Tensor bytes =
      at::tensor({0, 51, 255}, at::TensorOptions().dtype(at::kInt)).to(at::kByte);
  CHECK(spdec::test::max_abs_diff(to_float(bytes), at::tensor({-1.0, -0.6, 1.0})) < 1e-6);
  CHECK(spdec::test::max_abs_diff(to_float(bytes, ValueRange::zero_one),
                                  at::tensor({0.0, 0.2, 1.0})) < 1e-6);
  CHECK(spdec::test::max_abs_diff(to_bytes(to_float(bytes)), bytes) == 0.0);
  CHECK(spdec::config::kValueRanges.parse("[0,1]") == ValueRange::zero_one);
  CHECK_FALSE(spdec::config::kValueRanges.parse("0..1"));

  const at::Tensor ones = at::full({2, 1, 28, 28}, 200, at::TensorOptions().dtype(at::kByte));
  const at::Tensor padded = resize_or_pad(ones, 32, 32, ResizeMode::pad, 7);
  CHECK(padded.sizes() == at::IntArrayRef({2, 1, 32, 32}));
  CHECK(padded.slice(2, 2, 30).slice(3, 2, 30).eq(200).all().item<bool>());
  CHECK(padded.sum().item<std::int64_t>() == 2 * (28 * 28 * 200 + (32 * 32 - 28 * 28) * 7));
  const at::Tensor cropped = resize_or_pad(padded, 28, 28);
  CHECK(cropped.eq(200).all().item<bool>());  // centred crop undoes centred padding
  const at::Tensor up = resize_or_pad(ones, 56, 56, ResizeMode::bilinear);
  CHECK(up.sizes() == at::IntArrayRef({2, 1, 56, 56}));
  CHECK(up.eq(200).all().item<bool>());

  const at::Tensor img =
      at::arange(2 * 3, at::TensorOptions().dtype(at::kInt)).to(at::kByte).reshape({1, 1, 2, 3});
  const at::Tensor both = at::cat({img, img});
  const at::Tensor flipped =
      flip_where(both, at::tensor({0, 1}, at::TensorOptions().dtype(at::kInt)).to(at::kBool));
  CHECK(flipped[0].equal(img[0]));
  CHECK(flipped[1][0][0][0].item<int>() == 2);
  CHECK(flipped[1][0][1][2].item<int>() == 3);
  const at::Tensor mask = random_flip_mask(4000, 11);
  CHECK(mask.equal(random_flip_mask(4000, 11)));
  CHECK(!mask.equal(random_flip_mask(4000, 12)));
  // Bernoulli(½): 4000 draws, sd 31.6; 6 sd.
  CHECK(std::abs(mask.sum().item<std::int64_t>() - 2000) < 190);
}

TEST_CASE("data: the prefetching loader visits every index once per epoch, reproducibly",
          "[runtime][data]") {
  spdec::test::torch_setup();
  Dataset data;
  const std::int64_t n = 103;
  data.images = at::arange(n, at::TensorOptions().dtype(at::kInt))
                    .to(at::kByte)
                    .reshape({n, 1, 1, 1})
                    .expand({n, 1, 2, 2})
                    .contiguous();
  data.labels = at::arange(n, at::TensorOptions().dtype(at::kLong));
  data.range = ValueRange::zero_one;
  LoaderOptions options;
  options.batch_size = 10;
  options.seed = 42;

  auto epochs = [&](const Dataset& d, const LoaderOptions& o, int count) {
    BatchLoader loader(d, o);
    std::vector<std::vector<std::int64_t>> orders(static_cast<std::size_t>(count));
    for (int e = 0; e < count; ++e) {
      for (std::int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
        const Batch batch = loader.next();
        CHECK(batch.epoch == e);
        CHECK(batch.batch == b);
        CHECK(batch.images.scalar_type() == at::kFloat);
        CHECK(batch.labels.equal(batch.indices));
        // The images are the rows the indices name, mapped to [0, 1].
        CHECK(spdec::test::max_abs_diff(batch.images.select(3, 0).select(2, 0).select(1, 0) * 255.0,
                                        batch.indices.to(at::kFloat)) < 1e-3);
        const auto* idx = batch.indices.data_ptr<std::int64_t>();
        orders[static_cast<std::size_t>(e)].insert(orders[static_cast<std::size_t>(e)].end(), idx,
                                                   idx + batch.indices.numel());
      }
    }
    return orders;  // the loader's destructor stops its worker mid-stream
  };
  const auto first = epochs(data, options, 3);
  REQUIRE(first[0].size() == static_cast<std::size_t>(n));
  for (const auto& order : first) {
    CHECK(std::set<std::int64_t>(order.begin(), order.end()).size() == static_cast<std::size_t>(n));
    CHECK(order.size() == static_cast<std::size_t>(n));
  }
  CHECK(first[0] != first[1]);               // reshuffled each epoch
  CHECK(epochs(data, options, 3) == first);  // same seed, same order
  options.seed = 43;
  CHECK(epochs(data, options, 1)[0] != first[0]);
  options.shuffle = false;
  options.drop_last = true;
  const auto plain = epochs(data, options, 1);
  CHECK(plain[0].size() == 100);
  CHECK(plain[0].front() == 0);
  CHECK(plain[0].back() == 99);

  SECTION("flips are seeded") {
    data.flip = true;
    data.images = at::arange(n * 2, at::TensorOptions().dtype(at::kInt))
                      .remainder(256)
                      .to(at::kByte)
                      .reshape({n, 1, 1, 2});
    options = LoaderOptions{};
    options.batch_size = n;
    BatchLoader a(data, options);
    BatchLoader b(data, options);
    const Batch x = a.next();
    CHECK(x.images.equal(b.next().images));
    const at::Tensor left = x.images.select(3, 0);
    const at::Tensor right = x.images.select(3, 1);
    const std::int64_t flipped = left.gt(right).sum().item<std::int64_t>();
    CHECK(flipped > 20);
    CHECK(flipped < n - 20);
  }
  SECTION("an empty data set or a zero batch size is refused") {
    CHECK_THROWS_AS(BatchLoader(Dataset{}, options), std::invalid_argument);
    options.batch_size = 0;
    CHECK_THROWS_AS(BatchLoader(data, options), std::invalid_argument);
  }
}
