#!/usr/bin/env python3
"""tools/study.py --keep: kept eval results come back into a new output
folder, and only the units that a missing eval needs are run again."""
import argparse
import json
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".") / "tools"))
import study  # noqa: E402


def plan(out, methods=("heat", "ve"), suite="processes", nfe=(20, 50)):
    args = argparse.Namespace(out=str(out), classifier="", classifier_steps=0, steps=4000,
                              nfe=list(nfe), n=1000, seed_nfe=100, seed_n=2000,
                              methods=list(methods), spdec="spdec", suite=suite)
    units, _ = study.build_plan(args)
    return units


class KeepTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        root = pathlib.Path(self.tmp.name)
        self.out, self.keep = root / "out", root / "keep"
        self.units = plan(self.out)

    def tearDown(self):
        self.tmp.cleanup()

    def keep_evals(self, prefix):
        kept = [u for u in self.units.values() if u.kind == "eval" and
                u.id.startswith(prefix)]
        for u in kept:
            study.write_json_atomically(self.keep / f"{u.id}.json", {"unit": u.id, "kept": True})
        return kept

    def test_kept_results_are_restored_and_nothing_behind_them_reruns(self):
        kept = self.keep_evals("eval/heat_")
        self.assertEqual(len(kept), 2 * 4)  # two samplers: 2 sweep NFEs, seed 0 and 1 at 100
        self.assertEqual(study.restore_kept(self.out, self.keep, self.units), len(kept))
        done = {uid for uid, u in self.units.items() if study.result_path(self.out, u).exists()}
        self.assertEqual(done, {u.id for u in kept})
        needed = study.needed_units(self.units, done)
        self.assertNotIn("train/heat_seed0", needed)
        self.assertNotIn("train/heat_seed1", needed)
        self.assertIn("train/ve_seed0", needed)
        self.assertIn("train/ve_seed1", needed)
        self.assertIn("classifier", needed)
        self.assertFalse(any(uid.startswith("eval/heat_") for uid in needed))

    def test_one_missing_eval_brings_back_its_training_only(self):
        kept = self.keep_evals("eval/")
        missing = "eval/ve_posterior_nfe50_seed0_n1000"
        (self.keep / f"{missing}.json").unlink()
        study.restore_kept(self.out, self.keep, self.units)
        done = {uid for uid, u in self.units.items() if study.result_path(self.out, u).exists()}
        self.assertEqual(len(done), len(kept) - 1)
        self.assertEqual(study.needed_units(self.units, done),
                         {missing, "train/ve_seed0", "classifier"})

    def test_an_existing_result_is_not_overwritten(self):
        self.keep_evals("eval/heat_")
        unit = self.units["eval/heat_posterior_nfe20_seed0_n1000"]
        study.write_json_atomically(study.result_path(self.out, unit), {"local": True})
        study.restore_kept(self.out, self.keep, self.units)
        self.assertEqual(json.loads(study.result_path(self.out, unit).read_text()),
                         {"local": True})


class SuiteTest(unittest.TestCase):
    def test_the_schedules_suite_has_both_seeds_at_every_nfe(self):
        units = plan("/nonexistent", methods=(), suite="schedules", nfe=(9, 17, 35, 63))
        evals = [u for u in units.values() if u.kind == "eval"]
        # EDM, its ε-network control, two knot settings with each network
        methods = len(study.SCHEDULE_METHODS)
        self.assertEqual(methods, 6)
        # Two samplers each: EDM's Heun and the exact posterior sampler.
        self.assertEqual(len(evals), methods * 2 * 4 * 2)
        heun = [u for u in evals if 'sample.sampler="heun"' in u.command]
        self.assertEqual(len(heun), methods * 4 * 2)
        for u in evals:
            # EDM's Heun costs 2 * steps + 1, the posterior sampler steps + 1:
            # every target (9, 17, 35, 63) is hit.
            self.assertEqual(u.info["nfe"], u.info["nfe_target"])
        self.assertEqual({u.info["seed"] for u in evals}, {0, 1})
        self.assertEqual(sum(u.kind == "train" for u in units.values()), methods * 2)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
