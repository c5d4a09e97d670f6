#!/usr/bin/env python3
"""The tables of docs/results.md from a study folder (tools/study.sh).

    tools/study_table.py [runs/study2]

Reads <dir>/plan.json (every unit of the campaign, written when it starts)
and the units' results <dir>/results/{train,eval}/*.json, and prints Markdown:
the trainings; one table per NFE of the sweep (method, sampler, actual NFE,
FID, KID, IS, precision, recall, non-finite samples, rough share); the
two-seed table at the seed study's NFE (each cell: the mean, then the two
seeds' values); and the paper's Table 1 (CIFAR-10) ranking beside this
study's ranking of the same six methods. A result not there yet (a partial
campaign) prints "–". A sample is rough when its mean absolute difference
between horizontally adjacent pixels exceeds that of every one of the first
1000 Fashion-MNIST test images: the diverged, checkerboard samples of an
unstable sampler are, no real garment is (tools/study.py counts them when an
eval ends). Standard library only; tools/sample_stats.py and tools/study.py
use read_npy, roughness and real_roughness_bound from here.
"""
import ast
import gzip
import math
import json
import pathlib
import struct
import sys

FASHION_TEST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
DASH = "–"

# The paper's Table 1 (Holl et al.), CIFAR-10 FID, and the study's method for each row.
PAPER_TABLE_1 = [
    ("anisotropic (ours)", 2.0, "perona_malik"),
    ("flow matching (Lipman et al.)", 2.0, "flow_matching"),
    ("VE SDE (Song et al.)", 7.1, "ve"),
    ("isotropic (ours)", 19.6, "heat"),
    ("edge-preserving (Vandersanden et al.)", 28.7, "edge_preserving"),
    ("inverse heat dissipation (Rissanen et al.)", 84.3, "ihdm"),
]


# The schedules suite's questions (issue 19): (method, against), by study.py's keys.
SCHEDULE_COMPARISONS = [
    ("two_subspace", "edm"),                     # learned knots against EDM
    ("two_subspace", "two_subspace_init"),       # what learning the knots buys
    ("two_subspace_edm", "edm"),                 # the same with EDM's network
    ("two_subspace_edm", "two_subspace_edm_init"),
    ("edm_noise", "edm"),                        # EDM's schedule: ε-network against denoiser
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


# A pixel is near-black within this of the range's low end, -1: the
# background of a Fashion-MNIST image (52 % of the first 1000 test images'
# pixels). A denoiser whose coarse modes are off lifts it to grey.
DARK_MARGIN = 0.05


def dark_share(values):
    """The share of finite pixels at most -1 + DARK_MARGIN."""
    finite = [v for v in values if math.isfinite(v)]
    return sum(v <= -1.0 + DARK_MARGIN for v in finite) / max(1, len(finite))


def real_dark_share(n=1000):
    """dark_share of the first n test images, in [-1, 1]."""
    with gzip.open(FASHION_TEST, "rb") as f:
        data = f.read()
    _, _, height, width = struct.unpack(">IIII", data[:16])
    return dark_share([2.0 * b / 255.0 - 1.0 for b in data[16:16 + n * height * width]])


def load(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def value(result, key):
    """A metric of an eval result as a number (the mean of mean ± std), or None."""
    if not result or not result.get("metrics"):
        return None
    v = result["metrics"].get(key)
    if isinstance(v, dict):
        v = v.get("mean")
    return v


def fmt(v, digits):
    return DASH if v is None else f"{v:.{digits}f}"


DIGITS = {"fid": 1, "kid": 2, "is": 2, "precision": 3, "recall": 3}


def counts(result):
    """(non-finite, rough share) cells of an eval result."""
    stats = (result or {}).get("stats")
    if not stats:
        return DASH, DASH
    return (f"{stats['non_finite']}/{stats['samples']}",
            fmt(stats.get("rough_share"), 3))


def metric_cells(result):
    if result and result.get("status") == "non-finite":
        stats = result["stats"]
        return [f"diverged: {stats['non_finite']} of {stats['samples']} non-finite"] + [""] * 4
    cells = [fmt(value(result, k), DIGITS[k]) for k in ("fid", "kid")]
    is_ = (result or {}).get("metrics") or {}
    is_ = is_.get("is")
    cells.append(f"{is_['mean']:.2f} ± {is_['std']:.2f}" if isinstance(is_, dict) else DASH)
    cells += [fmt(value(result, k), DIGITS[k]) for k in ("precision", "recall")]
    return cells


def row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "runs/study2")
    plan = load(root / "plan.json")
    if not plan:
        sys.exit(f"{root}/plan.json not found: start the study first (tools/study.sh --out {root})")
    settings = plan["settings"]
    names = {m["key"]: m["name"] for m in plan["methods"]}
    labels = plan["samplers"]
    units = plan["units"]
    results = {u["unit"]: load(root / "results" / f"{u['unit']}.json") for u in units}
    done = sum(r is not None for r in results.values())
    print(f"Study folder `{root}`: {done} of {len(units)} units done; "
          f"{settings['steps']} training steps per method.\n")

    # Trainings.
    print("### Trainings\n")
    print(row(["method", "train.seed", "steps", "training minutes (train_log.jsonl)", "last logged loss"]))
    print(row(["---"] * 5))
    for u in units:
        if u["kind"] != "train":
            continue
        r = results[u["unit"]]
        last = (r or {}).get("train_log_last") or {}
        print(row([names[u["method"]], u["seed"], last.get("step", DASH),
                   fmt(last["time"] / 60 if "time" in last else None, 1),
                   fmt(last.get("loss"), 4)]))

    evals = [u for u in units if u["kind"] == "eval"]
    header = ["method", "sampler", "NFE", "FID ↓", "KID ↓", "IS ↑", "precision ↑", "recall ↑",
              "non-finite", "rough ↓"]

    def floor_row(group):
        for u in group:
            r = results[u["unit"]]
            if r and r.get("metrics") and r["metrics"].get("noise_floor"):
                floor = r["metrics"]["noise_floor"]
                fake = {"metrics": floor}
                return row([f"noise floor: {r['n']} {floor.get('split', '?')} images", "real data",
                            "", *metric_cells(fake), "", DASH])
        return None

    def two_seed_table(seed_nfe, seed_n):
        """Mean (seed 0 / seed 1) per method and sampler; the best FID mean per method."""
        print(f"\n### {seed_nfe} network evaluations, two training seeds "
              f"(n = {seed_n}, test split)\n")
        print("Each cell: the mean of the two seeds (seed 0 / seed 1).\n")
        print(row(header))
        print(row(["---"] * len(header)))
        seed_units = [u for u in evals if u["nfe_target"] == seed_nfe and u["n"] == seed_n]
        pairs = {}
        for u in seed_units:
            pairs.setdefault((u["method"], u["sampler"]), {})[u["seed"]] = u
        fid_means = {}
        for (method, sampler), by_seed in pairs.items():
            rs = [results[by_seed[s]["unit"]] if s in by_seed else None for s in (0, 1)]
            nfe = next(iter(by_seed.values()))["nfe"]
            cells = []
            for key in ("fid", "kid", "is", "precision", "recall"):
                vs = [value(r, key) for r in rs]
                mean = sum(vs) / 2 if None not in vs else None
                if key == "fid" and mean is not None:
                    fid_means[method] = min(mean, fid_means.get(method, mean))
                cells.append(f"{fmt(mean, DIGITS[key])} ({fmt(vs[0], DIGITS[key])} / "
                             f"{fmt(vs[1], DIGITS[key])})")
            nonfinite = " / ".join(counts(r)[0] for r in rs)
            rough = " / ".join(counts(r)[1] for r in rs)
            print(row([names[method], labels[sampler], nfe, *cells, nonfinite, rough]))
        floor = floor_row(seed_units)
        if floor:
            print(floor)
        return fid_means

    def seed_results(method, sampler, nfe):
        """The results of (method, sampler, nfe) at train.seed 0 and 1 (None
        for a seed not done); None when the study has no such eval."""
        mine = [u for u in evals if (u["method"], u["sampler"], u["nfe_target"]) ==
                (method, sampler, nfe)]
        if not mine:
            return None
        return [next((results[u["unit"]] for u in mine if u["seed"] == seed), None)
                for seed in (0, 1)]

    def fid_over_nfe():
        """One row per method and sampler, one column per NFE: FID as the
        two-seed mean (seed 0 / seed 1), and the rough share of each seed."""
        print("\n### FID over NFE (n = {}, test split)\n".format(settings["n"]))
        print("Each cell: FID, the mean of the two seeds (seed 0 / seed 1); "
              "rough share per seed in brackets.\n")
        nfes = settings["nfe"]
        print(row(["method", "sampler", *[f"NFE {nfe}" for nfe in nfes]]))
        print(row(["---"] * (2 + len(nfes))))
        keys = []
        for u in evals:
            if (u["method"], u["sampler"]) not in keys:
                keys.append((u["method"], u["sampler"]))
        for method, sampler in keys:
            cells = []
            for nfe in nfes:
                rs = seed_results(method, sampler, nfe) or [None, None]
                vs = [value(r, "fid") for r in rs]
                mean = sum(vs) / 2 if None not in vs else None
                rough = " / ".join(counts(r)[1] for r in rs)
                cells.append(f"{fmt(mean, 1)} ({fmt(vs[0], 1)} / {fmt(vs[1], 1)}) [{rough}]")
            print(row([names[method], labels[sampler], *cells]))

    def best_sampler_fids(method, nfe):
        """The sampler with the lowest two-seed mean FID of `method` at `nfe`
        and its per-seed FIDs; None while any sampler's seed is missing (the
        best sampler is not known until every one is in)."""
        best = None
        for sampler in labels:
            rs = seed_results(method, sampler, nfe)
            if rs is None:
                continue
            # A sampler that diverged is the worst, not a missing result.
            vs = [math.inf if (r or {}).get("status") == "non-finite" else value(r, "fid")
                  for r in rs]
            if None in vs:
                return None
            if best is None or sum(vs) < sum(best[1]):
                best = (sampler, vs)
        return best

    def verdicts():
        """Per NFE, each comparison's better method by the two seeds: lower at
        both seeds (the ranges do not overlap), or within the seed spread."""
        pairs = [(a, b) for a, b in SCHEDULE_COMPARISONS if a in names and b in names]
        if not pairs:
            return
        print("\n### Verdict per NFE: each method with its best sampler, two seeds\n")
        print("A method wins at an NFE when its FID is lower at both training seeds than "
              "the other's at both (the two seeds' ranges do not overlap); otherwise the "
              "difference is within the seed spread.\n")
        print(row(["comparison", *[f"NFE {nfe}" for nfe in settings["nfe"]]]))
        print(row(["---"] * (1 + len(settings["nfe"]))))
        for a, b in pairs:
            cells = []
            for nfe in settings["nfe"]:
                fa, fb = best_sampler_fids(a, nfe), best_sampler_fids(b, nfe)
                if fa is None or fb is None:
                    cells.append(DASH)
                    continue
                if max(fa[1]) < min(fb[1]):
                    word = f"{names[a]} better"
                elif max(fb[1]) < min(fa[1]):
                    word = f"{names[b]} better"
                else:
                    word = "within the seed spread"
                cells.append(f"{word}: {fmt(sum(fa[1]) / 2, 1)} ({labels[fa[0]]}) against "
                             f"{fmt(sum(fb[1]) / 2, 1)} ({labels[fb[0]]})")
            print(row([f"{names[a]} against {names[b]}", *cells]))

    if settings.get("suite") == "schedules":
        # Both seeds at every NFE: the summary and the verdicts, then one
        # two-seed table per NFE; no Table 1.
        fid_over_nfe()
        verdicts()
        for nfe in settings["nfe"]:
            two_seed_table(nfe, settings["n"])
        return

    # One table per NFE of the sweep.
    for nfe in settings["nfe"]:
        group = [u for u in evals if u["nfe_target"] == nfe and u["seed"] == 0
                 and u["n"] == settings["n"]]
        print(f"\n### {nfe} network evaluations (train.seed 0, n = {settings['n']})\n")
        print(row(header))
        print(row(["---"] * len(header)))
        for u in group:
            r = results[u["unit"]]
            print(row([names[u["method"]], labels[u["sampler"]], u["nfe"], *metric_cells(r),
                       *counts(r)]))
        floor = floor_row(group)
        if floor:
            print(floor)

    seed_nfe, seed_n = settings["seed_nfe"], settings["seed_n"]
    fid_means = two_seed_table(seed_nfe, seed_n)

    # The paper's ranking beside this study's.
    print(f"\n### The paper's Table 1 (CIFAR-10) and this study (Fashion-MNIST, {seed_nfe} NFE)\n")
    ours = sorted((fid, key) for key, fid in fid_means.items()
                  if key in {k for _, _, k in PAPER_TABLE_1})
    rank = {key: i + 1 for i, (_, key) in enumerate(ours)}
    print(row(["paper rank", "method", "paper FID (CIFAR-10)", "this study: FID, two-seed mean, "
               "best sampler", "this study: rank"]))
    print(row(["---"] * 5))
    for i, (name, fid, key) in enumerate(PAPER_TABLE_1):
        paper_rank = 1 + sum(f < fid for _, f, _ in PAPER_TABLE_1)
        print(row([paper_rank, name, f"{fid:.1f}", fmt(fid_means.get(key), 1),
                   rank.get(key, DASH)]))


if __name__ == "__main__":
    main()
