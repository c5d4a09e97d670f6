#include "runtime/data/dataset.hpp"

#include <stdexcept>

#include "runtime/base/data_error.hpp"
#include "runtime/data/cifar.hpp"
#include "runtime/data/idx.hpp"
#include "runtime/data/image_folder.hpp"

namespace spdec::runtime {

ResizeMode parse_resize_mode(const std::string& text) {
  if (text == "pad") return ResizeMode::pad;
  if (text == "bilinear") return ResizeMode::bilinear;
  throw std::invalid_argument("resize must be \"pad\" or \"bilinear\", got \"" + text + "\"");
}

at::Tensor to_float(const at::Tensor& bytes, ValueRange range) {
  // A latent data set's values are already the model's (runtime/nn/latent_space.hpp).
  if (at::isFloatingType(bytes.scalar_type())) return bytes.to(at::kFloat);
  at::Tensor x = bytes.to(at::kFloat) / 255.0;
  return range == ValueRange::minus_one_one ? x * 2.0 - 1.0 : x;
}

at::Tensor to_bytes(const at::Tensor& values, ValueRange range) {
  at::Tensor x = values.to(at::kFloat);
  if (range == ValueRange::minus_one_one) x = (x + 1.0) * 0.5;
  return (x.clamp(0.0, 1.0) * 255.0).round().to(at::kByte);
}

at::Tensor clamp_to_range(const at::Tensor& values, ValueRange range) {
  return values.clamp(range == ValueRange::minus_one_one ? -1.0 : 0.0, 1.0);
}

at::Tensor Dataset::to_float() const { return runtime::to_float(images, range); }
at::Tensor Dataset::to_float(ValueRange r) const { return runtime::to_float(images, r); }

at::Tensor resize_or_pad(const at::Tensor& images, std::int64_t height, std::int64_t width,
                         ResizeMode mode, std::uint8_t background) {
  if (images.dim() == 3) {
    return resize_or_pad(images.unsqueeze(0), height, width, mode, background).squeeze(0);
  }
  if (images.dim() != 4) {
    throw std::invalid_argument("resize_or_pad: images must be [N, C, H, W] or [C, H, W]");
  }
  if (height <= 0 || width <= 0) throw std::invalid_argument("resize_or_pad: size must be > 0");
  if (images.size(2) == height && images.size(3) == width) return images;
  if (mode == ResizeMode::bilinear) {
    const std::vector<std::int64_t> size = {height, width};
    at::Tensor x = at::upsample_bilinear2d(images.to(at::kFloat), at::IntArrayRef(size), false);
    return x.round().clamp(0, 255).to(images.scalar_type());
  }
  // constant_pad_nd pads (last dim first) and crops where a pad is negative.
  const std::int64_t dh = height - images.size(2);
  const std::int64_t dw = width - images.size(3);
  return at::constant_pad_nd(images, {dw / 2, dw - dw / 2, dh / 2, dh - dh / 2},
                             static_cast<double>(background));
}

at::Tensor convert_channels(const at::Tensor& images, int channels) {
  const std::int64_t have = images.size(1);
  if (have == channels) return images;
  if (have == 1 && channels == 3) return images.repeat({1, 3, 1, 1});
  if (have == 3 && channels == 1) {
    // stb's luminance: (77 r + 150 g + 29 b) >> 8.
    at::Tensor x = images.to(at::kInt);
    at::Tensor y = (x.select(1, 0) * 77 + x.select(1, 1) * 150 + x.select(1, 2) * 29) / 256;
    return y.unsqueeze(1).to(images.scalar_type());
  }
  throw std::invalid_argument("cannot convert " + std::to_string(have) + " channels to " +
                              std::to_string(channels));
}

at::Tensor flip_where(const at::Tensor& images, const at::Tensor& flip_mask) {
  const at::Tensor mask = flip_mask.to(at::kBool).reshape({-1, 1, 1, 1});
  return at::where(mask, images.flip({3}), images);
}

at::Tensor random_flip_mask(std::int64_t n, std::uint64_t seed) {
  at::Tensor mask = at::empty({n}, at::TensorOptions().dtype(at::kBool));
  bool* out = mask.data_ptr<bool>();
  std::uint64_t state = seed;
  for (std::int64_t i = 0; i < n; ++i) {
    // splitmix64
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    out[i] = (z >> 63) != 0;
  }
  return mask;
}

at::Tensor stack_images(const std::vector<at::Tensor>& images,
                        const std::vector<std::filesystem::path>& files) {
  if (images.empty()) throw std::invalid_argument("stack_images: no images");
  for (std::size_t i = 1; i < images.size(); ++i) {
    if (images[i].sizes() != images[0].sizes()) {
      auto shape = [](const at::Tensor& t) {
        return std::to_string(t.size(-2)) + "x" + std::to_string(t.size(-1));
      };
      const std::string problem = "image is " + shape(images[i]) + ", the first one" +
                                  (files.empty() ? "" : " (" + files[0].filename().string() + ")") +
                                  " is " + shape(images[0]) +
                                  ": give the data set a size to resize or pad to";
      if (i < files.size()) throw DataError(files[i], problem);
      throw std::invalid_argument("stack_images: image " + std::to_string(i) + ": " + problem);
    }
  }
  return at::stack(images);
}

Dataset load_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels) {
  Dataset out;
  out.images = read_idx_images(images);
  out.labels = read_idx_labels(labels);
  if (out.labels.size(0) != out.images.size(0)) {
    throw DataError(labels, "holds " + std::to_string(out.labels.size(0)) + " labels but " +
                                images.string() + " holds " + std::to_string(out.images.size(0)) +
                                " images");
  }
  return out;
}

Dataset load_dataset(const DatasetSpec& spec) {
  if (spec.channels != 0 && spec.channels != 1 && spec.channels != 3) {
    throw std::invalid_argument("data channels must be 1 or 3, got " +
                                std::to_string(spec.channels));
  }
  if (spec.size < 0 || spec.limit < 0) {
    throw std::invalid_argument("data size and limit must be >= 0");
  }
  Dataset data;
  if (spec.kind == config::Dataset::fashion_mnist) {
    const std::filesystem::path dir = spec.path.empty() ? kFashionMnistDir : spec.path;
    const std::string prefix = spec.split == Split::train ? "train" : "t10k";
    data = load_idx_pair(dir / (prefix + "-images-idx3-ubyte.gz"),
                         dir / (prefix + "-labels-idx1-ubyte.gz"));
  } else if (spec.kind == config::Dataset::idx) {
    if (spec.labels_path.empty()) {
      data.images = read_idx_images(spec.path);
      data.labels = at::full({data.images.size(0)}, -1, at::TensorOptions().dtype(at::kLong));
    } else {
      data = load_idx_pair(spec.path, spec.labels_path);
    }
  } else if (spec.kind == config::Dataset::cifar10) {
    LabelledImages cifar = read_cifar10(spec.path, spec.split);
    data.images = cifar.images;
    data.labels = cifar.labels;
  } else {  // config::Dataset::folder
    const int channels = spec.channels == 0 ? 3 : spec.channels;
    ImageFolderListing listing = list_image_files(spec.path);
    if (std::string note = skipped_note(listing); !note.empty()) {
      data.notes.push_back(spec.path.string() + ": " + note);
    }
    std::vector<std::filesystem::path>& files = listing.files;
    if (spec.limit > 0 && static_cast<std::int64_t>(files.size()) > spec.limit) {
      files.resize(static_cast<std::size_t>(spec.limit));
    }
    std::vector<at::Tensor> images;
    for (const auto& file : files) {
      at::Tensor image = read_image(file, channels);
      if (spec.size > 0)
        image = resize_or_pad(image, spec.size, spec.size, spec.resize, spec.background);
      images.push_back(image);
    }
    data.images = stack_images(images, files);
    data.labels = at::full({data.images.size(0)}, -1, at::TensorOptions().dtype(at::kLong));
  }
  if (spec.limit > 0 && data.images.size(0) > spec.limit) {
    data.images = data.images.narrow(0, 0, spec.limit).contiguous();
    data.labels = data.labels.narrow(0, 0, spec.limit).contiguous();
  }
  if (spec.channels != 0) data.images = convert_channels(data.images, spec.channels);
  if (spec.size > 0) {
    data.images = resize_or_pad(data.images, spec.size, spec.size, spec.resize, spec.background);
  }
  data.images = data.images.contiguous();
  data.range = spec.range;
  data.flip = spec.flip;
  return data;
}

}  // namespace spdec::runtime
