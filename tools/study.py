#!/usr/bin/env python3
"""The study of docs/results.md as a resumable campaign (run by tools/study.sh).

    tools/study.sh [--steps 4000] [--nfe 20,50,100,200] [--n 1000]
                   [--seed-nfe 100] [--seed-n 2000] [--out runs/study2]
                   [--jobs 2] [--classifier PATH] [--classifier-steps K]
                   [--methods a,b,...] [--keep DIR] [--dry-run]

Ten forward processes and one variant (METHODS) trained on Fashion-MNIST 28x28 with one
network, optimiser, batch and step budget (COMMON), each sampled with its
best sampler(s) at equal numbers of network evaluations (NFE) and scored
with `spdec run eval` in the features of spdec's own classifier:

  * the NFE sweep: train.seed = 0, every NFE of --nfe, n = --n samples;
  * the seed study: train.seed = 0 and 1 (a second training), NFE --seed-nfe,
    n = --seed-n samples, against the test set.

Every unit of work (the classifier, one training, one eval at one
sampler/NFE/seed/n) writes its result to OUT/results/... atomically (a
temporary file, then a rename) and is skipped when that file exists;
a training resumes by itself from its run directory's checkpoint (spdec does
that); an eval reuses the samples.npy it already drew. So the campaign can be
stopped at any time (`kill PID`: running units get SIGTERM, trainings write
their checkpoint) and resumed by running the same command again. Per-unit
logs: OUT/logs/; progress: OUT/progress.log (and stdout). --jobs J runs J
units side by side with run.threads=1 each. A unit that fails is reported
at the end and the others go on (the units that need it wait for the next
run); the exit status is then 1. A sampler that diverges is a result, not a
failure: its eval records the count of non-finite samples (FID is undefined
for them) and is not retried.

--keep DIR makes the campaign outlive its output folder: every finished eval
also writes its result to DIR/<unit>.json (DIR is meant to be committed:
results/study3 in the repository), and a campaign started on a machine that
lost OUT copies them back into OUT/results, so only the evals DIR lacks run
again, with the trainings and the classifier they need and no others. The
classifier is retrained from the same spec and seed; DIR/classifier.json
records its checksum, and a campaign whose classifier differs says so (its
features, hence FIDs, would not be comparable with the kept ones).

NFE accounting (runtime/sampling/sampler.cpp, runtime/sampling/flow_sampler.cpp): every score
sampler ends with one Tweedie denoising evaluation at t0, so the posterior,
exponential and corrector-free PC samplers cost steps + 1 NFE; flow
matching's Heun costs 2 * steps - 1 (Euler on the last step). `sample.steps`
is the largest count whose NFE does not exceed the target; the actual NFE is
printed in the plan and the tables. Standard library only.
"""
import argparse
import hashlib
import json
import math
import os
import pathlib
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from study_table import read_npy, real_roughness_bound, roughness  # noqa: E402

# One network, optimiser and batch for everyone: the quickstart's network (16
# channels, [1, 2, 2], one block, no attention: 268 k parameters) at the
# data's own 28x28, the learning rate that trains it fastest on a CPU budget
# (the `common` of the first study). train.steps and train.seed per unit.
COMMON = [
    "data.size=28", "model.base_channels=16", "model.channel_mult=[1,2,2]",
    "model.num_res_blocks=1", "model.attention_resolutions=[]", "model.dropout=0.0",
    "train.lr=1e-3", "train.warmup=100", "train.ema=0.999", "train.batch_size=32",
    "train.checkpoint_every=500", "train.sample_every=0", "train.log_every=100",
    "run.threads=1",
]

# Samplers: key -> (label, overrides, NFE of `steps`, largest steps within an NFE).
# "auto" is the exact posterior sampler for linear and decoupled processes.
# For the sde reading (no posterior) it is PC; we run it with no corrector:
# at equal NFE a Langevin corrector step costs a predictor step, and the SDE
# reading's drift is stiff (the heat-like mode Lambda ~ 8 alpha1 ~ 450 at the
# end, docs/results.md), so every evaluation goes to predictor steps, which
# halves h * Lambda compared with corrector_steps = 1 at the same NFE.
SAMPLERS = {
    "posterior": ("auto (posterior)", ['sample.sampler="auto"'],
                  lambda s: s + 1, lambda nfe: nfe - 1),
    "exponential": ("exponential (2M)", ['sample.sampler="exponential"'],
                    lambda s: s + 1, lambda nfe: nfe - 1),
    "pc": ("auto (PC, no corrector)", ['sample.sampler="auto"', "sample.corrector_steps=0"],
           lambda s: s + 1, lambda nfe: nfe - 1),
    "heun": ("flow ODE, Heun", ['sample.integrator="heun"'],
             lambda s: 2 * s - 1, lambda nfe: (nfe + 1) // 2),
    # EDM's Heun on each mode's own sigma clock (runtime/sampling/): two
    # evaluations per step down to t0, then the final denoising (EDM's last
    # Euler step to sigma = 0), so 2 * steps + 1 evaluations.
    "edm_heun": ("Heun (EDM, per mode)", ['sample.sampler="heun"'],
                 lambda s: 2 * s + 1, lambda nfe: (nfe - 1) // 2),
}

# key, name, spec, extra overrides, samplers, estimated training minutes per
# 4000 steps on one thread with two jobs side by side (docs/results.md for ve,
# heat, perona_malik, perona_malik_sde_local, flow_matching; the others scaled
# from ve by their time for the smoke test's 4 steps: a rough guess).
# Every method is an existing spec plus overrides (the keys COMMON does not
# set are the same in all fmnist_*.toml); VP, edge-preserving, IHDM and
# blurring take fmnist_ve.toml's [sample]/[forward] keys with their own .spde.
METHODS = [
    ("ve", "VE SDE (Song et al.)", "specs/fmnist_ve.toml", [],
     ["posterior", "exponential"], 16),
    ("vp", "VP SDE (Song et al.)", "specs/fmnist_ve.toml",
     ['process.file="library/vp.spde"'], ["posterior", "exponential"], 17),
    # VE and VP train with model.parameterisation = "auto", which is the
    # ε-network for them (M_t = m(t)·I); this row measures the denoiser
    # against it, the evidence for that default.
    ("vp_denoiser", "VP SDE, denoiser network", "specs/fmnist_ve.toml",
     ['process.file="library/vp.spde"', 'model.parameterisation="denoiser"'], ["posterior"], 17),
    ("heat", "heat, isotropic (ours isotropic)", "specs/fmnist_heat.toml", [],
     ["posterior", "exponential"], 20),
    ("perona_malik", "anisotropic, decoupled (ours anisotropic)",
     "specs/fmnist_perona_malik.toml", [], ["posterior"], 31),
    ("perona_malik_sde_local", "anisotropic, SDE reading, local DSM",
     "specs/fmnist_perona_malik_sde.toml", ['train.objective="local_dsm"'], ["pc"], 66),
    ("perona_malik_sde_sliced", "anisotropic, SDE reading, sliced SM",
     "specs/fmnist_perona_malik_sde.toml", ['train.objective="sliced"'], ["pc"], 80),
    ("flow_matching", "flow matching, OT (Lipman et al.)",
     "specs/fmnist_flow_matching.toml", [], ["heun"], 15),
    ("edge_preserving", "edge-preserving noise (Vandersanden et al.)",
     "specs/fmnist_ve.toml", ['process.file="library/edge_preserving.spde"'],
     ["posterior"], 20),
    # IHDM's own 28x28 (MNIST) setting is sigma_B,max = 20 (library/ihdm.spde).
    ("ihdm", "inverse heat dissipation (Rissanen et al.)", "specs/fmnist_ve.toml",
     ['process.file="library/ihdm.spde"', "process.params.sigma_b_max=20"], ["posterior"], 18),
    ("blurring", "blurring diffusion (Hoogeboom & Salimans)", "specs/fmnist_ve.toml",
     ['process.file="library/blurring.spde"'], ["posterior"], 40),
]
# The order units run in (build_plan): the paper's processes, then the
# baselines, then the slowest trainings.
PRIORITY = ("heat", "perona_malik", "ve", "vp", "flow_matching", "edge_preserving", "ihdm",
            "blurring", "vp_denoiser", "perona_malik_sde_local", "perona_malik_sde_sliced")
# The schedules suite (issue 19's comparison, after Liu, Li & Cheng 2026,
# "Variational trajectory optimization of anisotropic diffusion schedules",
# arXiv:2602.19512): EDM against the two-subspace schedule with its initial
# and with its learned knots, the same network and budget, EDM's Heun at
# NFE 9, 17, 35, 63, two training seeds at every NFE. The two-subspace
# schedule twice: with an ε-network (its first form) and with EDM's own
# network (the preconditioned denoiser, c_noise, log-normal σ's, EDM's loss
# weight), so that against EDM only the schedule differs; EDM with an
# ε-network separates the parameterisation from the schedule. Every method
# is also sampled with the exact posterior sampler: with the ε-network the
# deterministic samplers left rough samples (two-subspace, initial knots,
# 256 samples at NFE 35: Heun 30 %, the exponential integrator 9 %, the
# posterior sampler 0 %), so Heun alone would compare samplers, not schedules. Training
# minutes on one thread of the 2-core machine, measured (2026-12-07): EDM 54
# beside other work (about 20 since time_of_sigma's Illinois steps), the
# two-subspace schedule 12 with its initial knots and about 76 learning them
# (a Hessian-vector product per step).
# EDM's network and training times (specs/fmnist_edm.toml) for another process.
EDM_NETWORK = ['model.parameterisation="denoiser"', 'model.preconditioning="sigma_data"',
               "model.sigma_data=0.5", 'model.time_input="log_sigma"',
               'train.time_sampling="log_normal"', "train.p_mean=-1.2", "train.p_std=1.2",
               'train.weighting="mode"']
SCHEDULE_METHODS = [
    ("edm", "EDM (Karras et al.)", "specs/fmnist_edm.toml", [], ["edm_heun", "posterior"], 20),
    ("two_subspace_init", "two-subspace, initial knots", "specs/fmnist_two_subspace.toml",
     ["train.schedule_lr=0"], ["edm_heun", "posterior"], 12),
    ("two_subspace", "two-subspace, learned knots", "specs/fmnist_two_subspace.toml", [],
     ["edm_heun", "posterior"], 76),
    ("edm_noise", "EDM, ε-network", "specs/fmnist_edm.toml", ['model.parameterisation="noise"'],
     ["edm_heun", "posterior"], 12),
    ("two_subspace_edm_init", "two-subspace, EDM's network, initial knots",
     "specs/fmnist_two_subspace.toml", EDM_NETWORK + ["train.schedule_lr=0"],
     ["edm_heun", "posterior"], 25),
    ("two_subspace_edm", "two-subspace, EDM's network, learned knots",
     "specs/fmnist_two_subspace.toml", EDM_NETWORK, ["edm_heun", "posterior"], 90),
]
# suite -> its methods, their order, and the defaults of --nfe and --n;
# seeds_every_nfe: both training seeds at every NFE (no separate seed study).
SUITES = {
    "processes": {"methods": METHODS, "priority": PRIORITY, "nfe": "20,50,100,200", "n": 1000,
                  "seeds_every_nfe": False},
    "schedules": {"methods": SCHEDULE_METHODS,
                  "priority": ("edm", "two_subspace", "two_subspace_init", "two_subspace_edm",
                               "two_subspace_edm_init", "edm_noise"),
                  "nfe": "9,17,35,63", "n": 2000, "seeds_every_nfe": True},
}
METRICS = '["fid","kid","is","precision_recall"]'
CLASSIFIER_SPEC = "specs/fmnist_classifier.toml"
# Rough cost of sampling on one thread (two jobs side by side): seconds per
# image per network evaluation (bench/run_all.sh: 1.1 ms on two threads), and
# the classifier's and an eval's fixed cost. Blurring costs more whatever n:
# its noise filter depends on t, so the linear process integrates its per-mode
# variances panel by panel (thousands of panels, the filter evaluated at each):
# the time grid's choice by the Gaussian oracle took about 4 min, and each
# sampler step about 0.4 s per batch of eval.batch_size = 256 (smoke test,
# 3 and 49 steps, on the loaded 2-core machine).
SECONDS_PER_IMAGE_NFE = 2e-3
EXTRA_EVAL_S = {"blurring": lambda steps, n: 240 + 0.4 * steps * -(-n // 256)}
EVAL_OVERHEAD_S = 60
CLASSIFIER_S = 600


def share_niceness(pid):
    """Gives a unit's new session the driver's niceness. On Linux with
    autogroup scheduling (kernel.sched_autogroup_enabled = 1) every session
    is its own scheduling group and `nice` only ranks processes within it,
    so `nice -n 19 tools/study.sh` alone would still take a full share of
    the cores from the user's builds; the group's own niceness fixes that."""
    try:
        with open(f"/proc/{pid}/autogroup", "w") as group:
            group.write(str(os.nice(0)))
    except OSError:
        pass  # no autogroup (another OS, or disabled): plain nice applies


def write_json_atomically(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


class Unit:
    def __init__(self, uid, kind, rank, deps, info, estimate_s):
        self.id = uid  # also the file stem: results/<id>.json, logs/<id>.log
        self.kind = kind
        self.rank = rank
        self.deps = deps
        self.info = info
        self.estimate_s = estimate_s
        self.command = []
        self.run_dir = None


def build_plan(args):
    out = pathlib.Path(args.out)
    units = {}
    classifier = pathlib.Path(args.classifier) if args.classifier else out / "classifier" / "classifier.pt"
    cls_deps = []
    if not args.classifier:
        u = Unit("classifier", "classifier", (0,), [], {}, CLASSIFIER_S)
        u.run_dir = out / "classifier"
        u.command = [args.spdec, "run", "classifier", CLASSIFIER_SPEC, f'run.dir="{u.run_dir}"',
                     "run.threads=1"]
        if args.classifier_steps:
            u.command.append(f"train.steps={args.classifier_steps}")
        units[u.id] = u
        cls_deps = [u.id]
    suite = SUITES[args.suite]
    wanted = [m for m in suite["methods"] if not args.methods or m[0] in args.methods]
    # Method-major order: a method's training, then its evals, the paper's
    # processes first. A campaign that runs in bounded sittings (each resumed
    # from checkpoints) then finishes whole rows of the table early, instead
    # of every training before any eval (the shortest makespan, but nothing to
    # read until the end).
    priority = {key: p for p, key in enumerate(suite["priority"])}

    def train_unit(i, seed):
        key, name, spec, extra, _, minutes = wanted[i]
        uid = f"train/{key}_seed{seed}"
        if uid in units:
            return uid
        u = Unit(uid, "train", (1 if seed == 0 else 4, priority[key], 0, 0), [],
                 {"method": key, "name": name, "spec": spec, "seed": seed, "steps": args.steps},
                 minutes * 60 * args.steps / 4000)
        u.run_dir = out / "train" / f"{key}_seed{seed}"
        u.command = [args.spdec, "run", "train", spec, *extra, f'run.dir="{u.run_dir}"', *COMMON,
                     f"train.steps={args.steps}", f"train.seed={seed}"]
        units[uid] = u
        return uid

    def eval_unit(i, sampler, nfe, seed, n, phase):
        key, name, spec, extra, _, _ = wanted[i]
        label, sampler_overrides, nfe_of, steps_for = SAMPLERS[sampler]
        steps = steps_for(nfe)
        if steps < 1:
            raise SystemExit(f"study: NFE {nfe} is too small for the {sampler} sampler")
        uid = f"eval/{key}_{sampler}_nfe{nfe}_seed{seed}_n{n}"
        if uid in units:
            # The same eval asked for twice (a sweep NFE that is also the seed
            # study's) is one unit; another method and sampler spelling the
            # same name (method "a_b" with sampler "c", method "a" with "b_c")
            # would silently lose one of them.
            if (units[uid].info["method"], units[uid].info["sampler"]) != (key, sampler):
                raise SystemExit(f"study: {uid} names two evals ({units[uid].info['method']} with "
                                 f"{units[uid].info['sampler']}, {key} with {sampler}): rename one")
            return
        train = train_unit(i, seed)
        u = Unit(uid, "eval", (1 if seed == 0 else 4, priority[key], phase, nfe), [train, *cls_deps],
                 {"method": key, "name": name, "sampler": sampler, "sampler_label": label,
                  "nfe_target": nfe, "nfe": nfe_of(steps), "steps": steps, "seed": seed, "n": n,
                  "train_steps": args.steps},
                 EVAL_OVERHEAD_S + SECONDS_PER_IMAGE_NFE * n * nfe_of(steps)
                 + EXTRA_EVAL_S.get(key, lambda *_: 0)(steps, n))
        u.run_dir = out / "eval" / uid.split("/", 1)[1]
        train_dir = units[train].run_dir
        u.command = [args.spdec, "run", "eval", spec, *extra, f'run.dir="{u.run_dir}"', *COMMON,
                     f"train.steps={args.steps}", f"train.seed={seed}",
                     f'sample.checkpoint="{train_dir / "checkpoint.pt"}"', *sampler_overrides,
                     f"sample.steps={steps}", "sample.seed=0", "eval.seed=0", f"eval.n={n}",
                     f'eval.classifier="{classifier}"', f"eval.metrics={METRICS}"]
        units[uid] = u

    for i in range(len(wanted)):
        train_unit(i, 0)
    for i, method in enumerate(wanted):
        for sampler in method[4]:
            if suite["seeds_every_nfe"]:
                for nfe in args.nfe:
                    for seed in (0, 1):
                        eval_unit(i, sampler, nfe, seed, args.n, 2 if seed == 0 else 5)
                continue
            for nfe in args.nfe:
                eval_unit(i, sampler, nfe, 0, args.n, 2)
            for seed in (0, 1):
                eval_unit(i, sampler, args.seed_nfe, seed, args.seed_n, 3 if seed == 0 else 5)
    return units, classifier


def file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def restore_kept(out, keep, units):
    """Copies the kept eval results that OUT lacks into OUT/results."""
    restored = 0
    for u in units.values():
        kept = kept_path(keep, u)
        if u.kind == "eval" and kept.exists() and not result_path(out, u).exists():
            write_json_atomically(result_path(out, u), json.loads(kept.read_text()))
            restored += 1
    return restored


def needed_units(units, done):
    """The units that must run: every eval not done, and what it needs that
    is not done. A training or a classifier nothing waits for is left out, so
    a campaign restored from kept results does not retrain finished rows."""
    needed = set()
    stack = [u.id for u in units.values() if u.kind == "eval" and u.id not in done]
    while stack:
        uid = stack.pop()
        if uid in needed or uid in done:
            continue
        needed.add(uid)
        stack.extend(units[uid].deps)
    return needed


def kept_path(keep, unit):
    """Where --keep holds a unit's result (None: no --keep)."""
    return keep / f"{unit.id}.json" if keep else None


def result_path(out, unit):
    return pathlib.Path(out) / "results" / f"{unit.id}.json"


def log_path(out, unit):
    return pathlib.Path(out) / "logs" / f"{unit.id}.log"


def hours(seconds):
    return f"{seconds / 3600:.1f} h"


def print_plan(args, units):
    out = pathlib.Path(args.out)
    keep = pathlib.Path(args.keep) if args.keep else None
    done = {u.id for u in units.values() if result_path(out, u).exists()
            or (keep and u.kind == "eval" and kept_path(keep, u).exists())}
    kinds = {"classifier": [], "train": [], "eval": []}
    for u in units.values():
        kinds[u.kind].append(u)
    print(f"study plan: {len(units)} units into {out} "
          f"({len(done)} done), --jobs {args.jobs}, run.threads=1 each")
    print(f"  trainings: {args.steps} steps, batch 32, train.seed 0 (all) and 1 (seed study)")
    suite = SUITES[args.suite]
    if suite["seeds_every_nfe"]:
        print(f"  suite {args.suite}: NFE {args.nfe}, train.seed 0 and 1 at each, n = {args.n} "
              "(test split)")
    else:
        print(f"  NFE sweep {args.nfe}: seed 0, n = {args.n}; seed study: NFE {args.seed_nfe}, "
              f"train.seed 0 and 1, n = {args.seed_n} (test split)")
    print("\n  sampler             NFE target -> sample.steps (actual NFE)")
    for key, (label, overrides, nfe_of, steps_for) in SAMPLERS.items():
        used = [m[0] for m in suite["methods"] if key in m[4]]
        if not used:
            continue
        targets = sorted(set(args.nfe) | (set() if suite["seeds_every_nfe"] else {args.seed_nfe}))
        cells = ", ".join(f"{t} -> {steps_for(t)} ({nfe_of(steps_for(t))})" for t in targets)
        print(f"  {label:24s} {cells}   [{' '.join(overrides)}; {', '.join(used)}]")
    print()
    for kind in ("classifier", "train", "eval"):
        group = sorted(kinds[kind], key=lambda u: u.rank)
        if not group:
            continue
        total = sum(u.estimate_s for u in group)
        left = sum(u.estimate_s for u in group if u.id not in done)
        print(f"  {kind}: {len(group)} units ({sum(u.id in done for u in group)} done), "
              f"about {hours(total)} of one thread ({hours(left)} left)")
        for u in group:
            i = u.info
            state = "done" if u.id in done else "todo"
            extra = ""
            if kind == "eval":
                extra = (f"  {i['sampler_label']}, NFE {i['nfe']} = {i['steps']} steps, "
                         f"seed {i['seed']}, n {i['n']}")
            print(f"    [{state}] {u.id:52s} ~{u.estimate_s / 60:5.0f} min{extra}")
    total = sum(u.estimate_s for u in units.values() if u.id not in done)
    print(f"\n  left: about {hours(total)} of one thread, about "
          f"{hours(total / max(1, min(args.jobs, 2)))} of wall-clock at --jobs {args.jobs} "
          f"on this 2-core machine (estimates: docs/results.md timings, "
          f"{SECONDS_PER_IMAGE_NFE * 1e3:.0f} ms per image and NFE)")


def sample_stats(npy, bound):
    shape, values = read_npy(npy)
    count, channels, height, width = shape
    size = channels * height * width
    finite = [all(math.isfinite(v) for v in values[k * size:(k + 1) * size]) for k in range(count)]
    rough = 0
    if channels == 1:
        rough = sum(f and r > bound for f, r in zip(finite, roughness(values, count, height, width)))
    return {"samples": count, "non_finite": count - sum(finite), "rough": rough,
            "rough_share": rough / count if count else None}


def last_json_line(path):
    if not path.exists():
        return {}
    lines = [l for l in path.read_text().splitlines() if l.strip()]
    return json.loads(lines[-1]) if lines else {}


def interesting_lines(log):
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return [], ""
    notes = [l.strip() for l in lines if l.startswith("sample: ") and
             (" sampler " in l or "warning" in l)]
    errors = [l.strip() for l in lines if "error" in l.lower()]
    tail = errors[-1] if errors else (lines[-1].strip() if lines else "")
    return notes, tail


class Campaign:
    def __init__(self, args, units):
        self.args = args
        self.out = pathlib.Path(args.out)
        self.units = units
        self.running = {}  # uid -> (Popen, start time, log file)
        self.failed = {}  # uid -> reason
        self.stopping = False
        self._bound = None
        self.keep = pathlib.Path(args.keep) if args.keep else None

    def check_classifier(self, path):
        """Records the classifier's checksum in KEEP, or warns when it differs."""
        record = self.keep / "classifier.json"
        digest = file_digest(path)
        if not record.exists():
            write_json_atomically(record, {"sha256": digest, "spec": CLASSIFIER_SPEC})
        elif json.loads(record.read_text()).get("sha256") != digest:
            self.note(f"WARNING: the classifier {path} differs from the one the kept results "
                      f"used ({record}): FIDs of this run and the kept ones are in different "
                      "feature spaces")

    def bound(self):
        if self._bound is None:
            self._bound = real_roughness_bound()
        return self._bound

    def note(self, text):
        line = time.strftime("%Y-%m-%d %H:%M:%S ") + text
        print(line, flush=True)
        with open(self.out / "progress.log", "a") as f:
            f.write(line + "\n")

    def done(self, uid):
        return result_path(self.out, self.units[uid]).exists()

    def ready(self, u):
        return all(self.done(d) for d in u.deps)

    def blocked(self, u):
        return any(d in self.failed or self.blocked(self.units[d]) for d in u.deps)

    def start(self, u):
        log = log_path(self.out, u)
        log.parent.mkdir(parents=True, exist_ok=True)
        f = open(log, "a")
        f.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} study: "
                + " ".join(json.dumps(c) if " " in c else c for c in u.command) + "\n")
        f.flush()
        # Own session: a terminal's Ctrl-C reaches the driver only, which
        # passes SIGTERM on (a training then checkpoints and exits).
        p = subprocess.Popen(u.command, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        share_niceness(p.pid)
        pid_file = self.out / "running" / f"{u.id.replace('/', '__')}.pid"
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{p.pid}\n")
        self.running[u.id] = (p, time.time(), f, pid_file)
        self.note(f"start {u.id} (log {log})")

    def finish(self, uid, rc):
        p, started, f, pid_file = self.running.pop(uid)
        f.close()
        pid_file.unlink(missing_ok=True)
        u = self.units[uid]
        seconds = time.time() - started
        log = log_path(self.out, u)
        if self.stopping and rc != 0:
            self.note(f"stopped {uid} (rc {rc}); it resumes on the next run")
            return
        try:
            result = self.result(u, rc, seconds, log)
        except Exception as e:  # a unit's own failure must not stop the others
            result = None
            reason = f"reading its outputs failed: {e}"
        else:
            reason = None if result else f"rc {rc}: {interesting_lines(log)[1]}"
        if result is None:
            self.failed[uid] = reason
            self.note(f"FAILED {uid} after {seconds / 60:.1f} min: {reason} (log {log})")
            return
        write_json_atomically(result_path(self.out, u), result)
        if self.keep and u.kind == "eval":
            write_json_atomically(kept_path(self.keep, u), result)
        if self.keep and u.kind == "classifier":
            self.check_classifier(u.run_dir / "classifier.pt")
        status = result.get("status", "ok")
        self.note(f"done {uid} in {seconds / 60:.1f} min: {status}"
                  + (f", FID {result['metrics']['fid']:.2f}" if result.get("metrics", {})
                     and "fid" in result["metrics"] else ""))

    def result(self, u, rc, seconds, log):
        base = dict(u.info, unit=u.id, seconds=round(seconds, 1),
                    finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
        if u.kind == "classifier":
            if rc != 0 or not (u.run_dir / "classifier.pt").exists():
                return None
            return dict(base, classifier=str(u.run_dir / "classifier.pt"),
                        summary=interesting_lines(log)[1])
        if u.kind == "train":
            if rc != 0 or not (u.run_dir / "checkpoint.pt").exists():
                return None
            last = last_json_line(u.run_dir / "train_log.jsonl")
            return dict(base, train_log_last=last, run_dir=str(u.run_dir))
        notes, tail = interesting_lines(log)
        npy = u.run_dir / "samples.npy"
        stats = sample_stats(npy, self.bound()) if npy.exists() else None
        if rc == 0:
            metrics = json.loads((u.run_dir / "metrics.json").read_text())
            return dict(base, status="ok", metrics=metrics, stats=stats, sampler_notes=notes)
        if stats and stats["samples"] >= u.info["n"] and stats["non_finite"] > 0:
            # Diverged: a result (deterministic), not a failure to retry.
            return dict(base, status="non-finite", metrics=None, stats=stats,
                        sampler_notes=notes, message=tail)
        return None

    def stop(self, signum, _frame):
        if not self.stopping:
            self.stopping = True
            self.note(f"signal {signum}: stopping {len(self.running)} running unit(s); "
                      "run the same command again to resume")
            for p, *_ in self.running.values():
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def run(self):
        # Not SIGHUP: under nohup it is ignored, and must stay so.
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, self.stop)
        restored = restore_kept(self.out, self.keep, self.units) if self.keep else 0
        classifier = self.out / "classifier" / "classifier.pt"
        if self.keep and "classifier" in self.units and classifier.exists():
            self.check_classifier(classifier)
        done = {uid for uid in self.units if self.done(uid)}
        needed = needed_units(self.units, done)
        todo = sorted((self.units[uid] for uid in needed), key=lambda u: u.rank)
        skipped = len(self.units) - len(todo)
        self.note(f"study: {len(self.units)} units, {skipped} done or not needed (skipped"
                  + (f"; {restored} results restored from {self.keep}" if restored else "")
                  + f"), {len(todo)} to run, --jobs {self.args.jobs}")
        while True:
            if not self.stopping:
                for u in todo:
                    if len(self.running) >= self.args.jobs:
                        break
                    if (u.id not in self.running and u.id not in self.failed
                            and not self.done(u.id) and self.ready(u)):
                        self.start(u)
            if not self.running:
                break
            time.sleep(0.5)
            for uid, (p, *_) in list(self.running.items()):
                rc = p.poll()
                if rc is not None:
                    self.finish(uid, rc)
        return self.report(todo)

    def report(self, todo):
        left = [u for u in todo if not self.done(u.id)]
        diverged = []
        for u in self.units.values():
            r = result_path(self.out, u)
            if u.kind == "eval" and r.exists():
                data = json.loads(r.read_text())
                if data.get("status") == "non-finite":
                    diverged.append(f"{u.id}: {data['stats']['non_finite']} of "
                                    f"{data['stats']['samples']} samples non-finite")
        done = len(self.units) - len(left)
        self.note(f"study: {done} of {len(self.units)} units done"
                  + (", stopped by a signal" if self.stopping else ""))
        if diverged:
            print(f"diverged samplers (recorded, FID undefined): {len(diverged)}")
            for line in diverged:
                print(f"  {line}")
        if self.failed:
            print(f"FAILED units: {len(self.failed)} (rerun the command to retry them)")
            for uid, reason in self.failed.items():
                print(f"  {uid}: {reason}\n    log: {log_path(self.out, self.units[uid])}")
        blocked = [u.id for u in left if u.id not in self.failed and self.blocked(u)]
        if blocked and not self.stopping:
            print(f"not run, waiting for a failed unit: {len(blocked)}")
            for uid in blocked:
                print(f"  {uid}")
        if not self.stopping:
            print(f"tables: python3 tools/study_table.py {self.out}")
        if self.stopping:
            return 130
        return 1 if self.failed or left else 0


def read_pid(path):
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def alive(pid, name):
    """Whether process `pid` runs and its command line mentions `name`."""
    try:
        return name in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def take_lock(out):
    """One driver per output folder; units left running by a driver that was
    killed with SIGKILL must end before a new one starts them again."""
    lock = out / "driver.pid"
    if lock.exists():
        pid = read_pid(lock)
        if pid and pid != os.getpid() and alive(pid, "study"):
            raise SystemExit(f"study: a driver (pid {pid}) is already running on {out}")
    for pid_file in (out / "running").glob("*.pid") if (out / "running").exists() else []:
        pid = read_pid(pid_file)
        if pid and alive(pid, "spdec"):
            raise SystemExit(f"study: {pid_file.stem.replace('__', '/')} (pid {pid}) is still "
                             "running from an earlier driver; wait for it or `kill` it, then rerun")
        pid_file.unlink()
    lock.write_text(f"{os.getpid()}\n")
    return lock


def main():
    parser = argparse.ArgumentParser(
        prog="tools/study.sh", description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4000, help="training steps (default 4000)")
    parser.add_argument("--suite", choices=sorted(SUITES), default="processes",
                        help="processes: the ten forward processes (default); schedules: EDM "
                             "(and with an ε-network) against the two-subspace schedule, "
                             "initial and learned knots")
    parser.add_argument("--nfe", default=None,
                        help="the NFE sweep, comma-separated (default 20,50,100,200; "
                             "schedules: 9,17,35,63)")
    parser.add_argument("--n", type=int, default=None,
                        help="samples per sweep eval (1000; schedules: 2000)")
    parser.add_argument("--seed-nfe", type=int, default=100, help="NFE of the seed study (100)")
    parser.add_argument("--seed-n", type=int, default=2000, help="samples per seed eval (2000)")
    parser.add_argument("--out", default="runs/study2", help="output folder (runs/study2)")
    parser.add_argument("--jobs", type=int, default=2, help="units side by side (2)")
    parser.add_argument("--classifier", default="",
                        help="an existing classifier.pt (default: train one into OUT/classifier)")
    parser.add_argument("--classifier-steps", type=int, default=0,
                        help="classifier training steps (default: the spec's 2000)")
    parser.add_argument("--methods", default="",
                        help="only these methods of the suite, comma-separated: "
                             + "; ".join(f"{name}: " + ",".join(m[0] for m in suite["methods"])
                                         for name, suite in SUITES.items()))
    parser.add_argument("--keep", default="",
                        help="a folder (committed) that keeps every eval result and restores "
                             "them into a new OUT (e.g. results/study3)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    args = parser.parse_args()
    suite = SUITES[args.suite]
    args.nfe = [int(x) for x in (args.nfe or suite["nfe"]).split(",") if x]
    args.n = args.n or suite["n"]
    args.methods = [m for m in args.methods.split(",") if m]
    unknown = set(args.methods) - {m[0] for m in suite["methods"]}
    if unknown or args.jobs < 1 or args.steps < 1 or not args.nfe:
        parser.error(f"bad arguments (unknown methods: {sorted(unknown)})")
    build = os.environ.get("SPDEC_BUILD_DIR")
    args.spdec = str((pathlib.Path(build).resolve() if build else ROOT / "build") / "spdec")
    # Paths given relative to where the command runs; the units run in the repository.
    args.out = str(pathlib.Path(args.out).resolve())
    if args.classifier:
        args.classifier = str(pathlib.Path(args.classifier).resolve())
    if args.keep:
        args.keep = str(pathlib.Path(args.keep).resolve())
    os.chdir(ROOT)
    units, _ = build_plan(args)
    if args.dry_run:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends it quietly
        print_plan(args, units)
        return 0
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # A folder holds one training budget: resuming with another would mix them.
    settings = {"steps": args.steps, "classifier_steps": args.classifier_steps,
                "classifier": args.classifier}
    if args.suite != "processes":  # older campaign.json files have no suite
        settings["suite"] = args.suite
    campaign = out / "campaign.json"
    if campaign.exists():
        old = json.loads(campaign.read_text())
        if old != settings:
            raise SystemExit(f"study: {out} was started with {old}, now {settings}; "
                             "use another --out")
    else:
        write_json_atomically(campaign, settings)
    lock = take_lock(out)
    share_niceness(os.getpid())  # the driver's own session (setsid, nohup)
    try:
        write_json_atomically(out / "plan.json", {
            "settings": dict(settings, nfe=args.nfe, n=args.n, seed_nfe=args.seed_nfe,
                             seed_n=args.seed_n),
            "methods": [{"key": m[0], "name": m[1], "samplers": m[4]}
                        for m in SUITES[args.suite]["methods"]
                        if not args.methods or m[0] in args.methods],
            "samplers": {k: v[0] for k, v in SAMPLERS.items()},
            "units": [dict(u.info, unit=u.id, kind=u.kind) for u in units.values()]})
        return Campaign(args, units).run()
    finally:
        lock.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
