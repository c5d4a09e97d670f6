#!/usr/bin/env python3
"""How many of a samples.npy's images diverged: non-finite, and "rough".

    tools/sample_stats.py runs/quickstart/samples.npy

A sample is rough when its mean absolute difference between horizontally
adjacent pixels exceeds that of every one of the first 1000 Fashion-MNIST
test images (docs/results.md): the saturated checkerboards an unstable
sampler leaves. No real image is rough by construction. Also the share of
near-black pixels (within 0.05 of -1), beside the test images' own: grey
backgrounds show as a share well below theirs. Standard library
only (the reading and the measure are tools/study_table.py's).
"""
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_table import (dark_share, read_npy, real_dark_share, real_roughness_bound,  # noqa: E402
                         roughness)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        shape, values = read_npy(Path(sys.argv[1]))
    except OSError as e:
        sys.exit(f"sample_stats: cannot read {sys.argv[1]}: {e.strerror}")
    count, channels, height, width = shape
    size = channels * height * width
    non_finite = sum(
        any(not math.isfinite(v) for v in values[k * size:(k + 1) * size]) for k in range(count))
    line = f"{sys.argv[1]}: {count} samples, {non_finite} non-finite"
    if channels == 1:
        bound = real_roughness_bound()
        rough = sum(r > bound for r in roughness(values, count, height, width))
        line += f", {rough} rough (bound {bound:.4f}, the roughest of 1000 test images)"
        line += (f"; near-black pixels {dark_share(values):.3f} "
                 f"(1000 test images: {real_dark_share():.3f})")
    print(line)


if __name__ == "__main__":
    main()
