// Full-reference image quality: how close reconstructions are to their
// originals (`spdec run autoencoder`). Both on images mapped from the data
// range to [0, 1] (peak 1), per image and averaged over the set.
//
//   PSNR  10 log10(1 / MSE) per image; an MSE below 1e-10 counts as 1e-10
//         (100 dB), so identical images give a finite mean
//   SSIM  Wang, Bovik, Sheikh, Simoncelli, "Image Quality Assessment: From
//         Error Visibility to Structural Similarity", 2004: a Gaussian window
//         of σ = 1.5 and side 11 (the largest odd side ≤ the image's when that
//         is smaller), "valid" positions only, K1 = 0.01, K2 = 0.03, L = 1;
//         the mean of the SSIM map over positions and channels
#pragma once

#include <ATen/ATen.h>

#include "runtime/config/choices.hpp"

namespace spdec::runtime {

/// Mean PSNR (dB) of a[i] against b[i], both [N, C, H, W] in `range`.
[[nodiscard]] double mean_psnr(const at::Tensor& a, const at::Tensor& b, config::ValueRange range);

/// Mean SSIM of a[i] against b[i], both [N, C, H, W] in `range`.
[[nodiscard]] double mean_ssim(const at::Tensor& a, const at::Tensor& b, config::ValueRange range);

}  // namespace spdec::runtime
