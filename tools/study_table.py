#!/usr/bin/env python3
"""The table of docs/results.md from a study directory (tools/study.sh).

    tools/study_table.py [runs/study]

Reads <dir>/<method>/metrics.json (spdec run eval), train_log.jsonl (spdec
run train) and samples_n*.npy of every method, prints one Markdown table:
steps, training time, FID, KID, IS, precision, recall, the share of "rough"
samples, then the noise floor (the other split's real images scored the same
way). A sample is rough when its mean absolute difference between
horizontally adjacent pixels exceeds that of every one of the first 1000
Fashion-MNIST test images: the diverged, checkerboard samples of an
under-trained decoupled sampler are, no real garment is. Standard library
only.
"""
import ast
import gzip
import json
import pathlib
import struct
import sys

FASHION_TEST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"

METHODS = [
    ("ve", "VE SDE (Song et al.)", "exact DSM"),
    ("heat", "heat, isotropic (ours isotropic)", "exact DSM"),
    ("perona_malik", "anisotropic, decoupled (ours anisotropic)", "exact DSM, decoupled"),
    ("perona_malik_sde", "anisotropic, SDE reading", "local DSM"),
    ("flow_matching", "flow matching, OT (Lipman et al.)", "velocity regression"),
]


def read_npy(path):
    """(shape, flat list of floats) of a little-endian float32 .npy file."""
    data = path.read_bytes()
    header_length = struct.unpack("<H", data[8:10])[0]
    header = ast.literal_eval(data[10:10 + header_length].decode("latin1"))
    if header["descr"] != "<f4" or header["fortran_order"]:
        raise ValueError(f"{path}: expected C-ordered float32")
    count = 1
    for n in header["shape"]:
        count *= n
    return header["shape"], struct.unpack(f"<{count}f", data[10 + header_length:])


def roughness(values, count, height, width):
    """Mean |u[i, j+1] - u[i, j]| of each of `count` images (one channel)."""
    out = []
    size = height * width
    for k in range(count):
        image = values[k * size:(k + 1) * size]
        total = 0.0
        for i in range(height):
            row = image[i * width:(i + 1) * width]
            total += sum(abs(row[j + 1] - row[j]) for j in range(width - 1))
        out.append(total / (height * (width - 1)))
    return out


def real_roughness_bound(n=1000):
    """The largest roughness of the first n test images, in [-1, 1]."""
    with gzip.open(FASHION_TEST, "rb") as f:
        data = f.read()
    _, _, height, width = struct.unpack(">IIII", data[:16])
    pixels = [2.0 * b / 255.0 - 1.0 for b in data[16:16 + n * height * width]]
    return max(roughness(pixels, n, height, width))


def rough_share(root, key, bound):
    files = sorted((root / key).glob("samples_n*.npy"))
    if not files:
        return "–"
    shape, values = read_npy(files[-1])
    if shape[1] != 1:
        return "–"
    r = roughness(values, shape[0], shape[2], shape[3])
    return f"{sum(v > bound for v in r) / len(r):.3f}"


def last_line(path):
    lines = path.read_text().strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def cell(metrics, key, digits):
    value = metrics.get(key)
    if value is None:
        return "–"
    if isinstance(value, dict):
        return f"{value['mean']:.{digits}f} ± {value['std']:.{digits}f}"
    return f"{value:.{digits}f}"


def row(name, what, metrics, steps="", minutes="", rough=""):
    kid = metrics.get("kid")
    return (f"| {name} | {what} | {steps} | {minutes} | {cell(metrics, 'fid', 1)} | "
            f"{kid['mean']:.2f} | {cell(metrics, 'is', 2)} | "
            f"{cell(metrics, 'precision', 3)} | {cell(metrics, 'recall', 3)} | {rough} |")


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "runs/study")
    bound = real_roughness_bound()
    print("| method | objective | steps | training (min, 1 thread) | FID ↓ | KID ↓ | IS ↑ "
          "| precision ↑ | recall ↑ | rough ↓ |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    floor = None
    for key, name, objective in METHODS:
        metrics_file = root / key / "metrics.json"
        train_log = root / key / "train_log.jsonl"
        if not metrics_file.exists():
            if train_log.exists():
                log = last_line(train_log)
                print(f"| {name} | {objective} | {log.get('step', '?')} | "
                      f"{log.get('time', 0) / 60:.0f} | no metrics: the eval failed "
                      f"({key}-eval.log) | | | | | |")
            else:
                print(f"| {name} | {objective} | (not run) | | | | | | | |")
            continue
        metrics = json.loads(metrics_file.read_text())
        log = last_line(train_log)
        print(row(name, objective, metrics, log.get("step", "?"),
                  f"{log.get('time', 0) / 60:.0f}", rough_share(root, key, bound)))
        floor = floor or dict(metrics["noise_floor"], n=metrics["n"])
    if floor:
        print(row(f"noise floor: {floor['n']} {floor['split']} images", "real data", floor,
                  rough="–"))


if __name__ == "__main__":
    main()
