#!/usr/bin/env python3
"""tools/study_table.py's verdicts for the schedules suite: a method wins at an
NFE only when it is lower at both training seeds, each method with its best
sampler; overlapping seeds are called a tie, and a missing seed no verdict."""
import contextlib
import io
import json
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".") / "tools"))
import study_table  # noqa: E402

NFES = [9, 17]
# (method, sampler, nfe) -> FID at seeds 0 and 1 (None: not run yet).
FIDS = {
    ("edm", "heun", 9): (200.0, 210.0),
    ("edm", "posterior", 9): (300.0, 320.0),
    ("two_subspace", "heun", 9): (700.0, 720.0),
    ("two_subspace", "posterior", 9): (150.0, 190.0),  # best sampler; both seeds below EDM's
    ("edm", "heun", 17): (140.0, 160.0),
    ("edm", "posterior", 17): (190.0, 195.0),
    ("two_subspace", "heun", 17): (500.0, 510.0),
    ("two_subspace", "posterior", 17): (150.0, None),  # seed 1 missing: no verdict
}


def write_study(root):
    units = []
    for (method, sampler, nfe), fids in FIDS.items():
        for seed, fid in enumerate(fids):
            unit = f"eval/{method}_{sampler}_nfe{nfe}_seed{seed}_n2000"
            units.append({"unit": unit, "kind": "eval", "method": method, "sampler": sampler,
                          "nfe_target": nfe, "nfe": nfe, "seed": seed, "n": 2000})
            if fid is None:
                continue
            path = root / "results" / f"{unit}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"unit": unit, "status": "ok", "metrics": {"fid": fid}}))
    plan = {"settings": {"suite": "schedules", "nfe": NFES, "n": 2000, "steps": 4000},
            "methods": [{"key": "edm", "name": "EDM"},
                        {"key": "two_subspace", "name": "learned"}],
            "samplers": {"heun": "Heun", "posterior": "posterior"},
            "units": units}
    (root / "plan.json").write_text(json.dumps(plan))


class VerdictTest(unittest.TestCase):
    def verdict_row(self, b=(300.0, 320.0)):
        FIDS[("edm", "posterior", 9)] = b
        with tempfile.TemporaryDirectory() as tmp:
            root = pathlib.Path(tmp)
            write_study(root)
            out = io.StringIO()
            argv = sys.argv
            sys.argv = ["study_table.py", str(root)]
            try:
                with contextlib.redirect_stdout(out):
                    study_table.main()
            finally:
                sys.argv = argv
        rows = [line for line in out.getvalue().splitlines()
                if line.startswith("| learned against EDM")]
        self.assertEqual(len(rows), 1)
        return [cell.strip() for cell in rows[0].strip("|").split("|")]

    def test_lower_at_both_seeds_wins_with_each_best_sampler(self):
        cells = self.verdict_row()
        self.assertEqual(cells[1], "learned better: 170.0 (posterior) against 205.0 (Heun)")
        self.assertEqual(cells[2], "–")  # a seed missing

    def test_overlapping_seeds_are_within_the_spread(self):
        # EDM's posterior now has the lowest mean but its seeds straddle the learned ones.
        cells = self.verdict_row(b=(140.0, 195.0))
        self.assertEqual(cells[1], "within the seed spread: 170.0 (posterior) against "
                                   "167.5 (posterior)")

    def test_higher_at_both_seeds_loses(self):
        cells = self.verdict_row(b=(100.0, 120.0))
        self.assertEqual(cells[1], "EDM better: 170.0 (posterior) against 110.0 (posterior)")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
