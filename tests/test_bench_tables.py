"""The paired comparison (bench.paired) and docs/training.md's presets table (bench.preset_table): the
figures a preset decision rests on, and the table that shows them, from the recorded runs."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from bench.accuracy import main as accuracy_main
from bench.paired import mcnemar_p, paired, summary
from bench.preset_table import row, runs_of, table
from core.train.config import config_for

ROOT = Path(__file__).resolve().parents[1]


def one_hot(answers, classes: int = 3) -> np.ndarray:
    return np.eye(classes)[np.asarray(answers)]


# -- McNemar -------------------------------------------------------------------------------------

def test_mcnemar_p_by_hand_at_its_edges():
    assert mcnemar_p(0, 0) == 1.0  # never disagree: no evidence either way
    assert mcnemar_p(5, 0) == 2 / 32 and mcnemar_p(0, 5) == 2 / 32  # 2 x (1/2)^5, two-sided, symmetric
    assert mcnemar_p(6, 0) == 2 / 64
    assert mcnemar_p(1, 1) == 1.0  # capped: 2 x 3/4
    assert mcnemar_p(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)


def test_paired_counts_the_rows_where_the_models_disagree():
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    a = one_hot([0, 1, 2, 1, 2, 0, 0, 1])  # misses rows 3, 4, 5
    b = one_hot([0, 1, 2, 0, 1, 0, 1, 1])  # fixes 3 and 4, misses 5 too, newly misses 6
    found = paired(a, b, labels)
    assert (found["errors_a"], found["errors_b"], found["only_a_wrong"], found["only_b_wrong"]) == (3, 2, 2, 1)
    assert found["gain"] == pytest.approx(1 / 8) and found["mcnemar_p"] == 1.0 and not found["b_better"]
    low, high = found["gain_ci95"]
    assert low < 0 < high
    assert summary(found).startswith("B 2 errors against A's 3: 2 fixed, 1 new, +12.50%")
    same = paired(a, a, labels)
    assert same["gain"] == 0 and same["gain_ci95"] == [0.0, 0.0] and same["mcnemar_p"] == 1.0
    with pytest.raises(ValueError):
        paired(a, b[:4], labels)


def test_a_clear_gain_is_called_better_and_a_one_image_gain_is_not():
    labels = np.zeros(10_000, dtype=int)
    a = one_hot(np.where(np.arange(10_000) < 40, 1, 0))  # 40 errors
    b_clear = one_hot(np.where(np.arange(10_000) < 20, 1, 0))  # the same first 20, 20 fixed, none new
    b_one = one_hot(np.where(np.arange(10_000) < 39, 1, 0))
    assert paired(a, b_clear, labels)["b_better"] and paired(a, b_clear, labels)["mcnemar_p"] < 1e-5
    assert not paired(a, b_one, labels)["b_better"]


def test_compare_reads_two_saved_runs(tmp_path, capsys):
    probs, out = tmp_path / "probs", tmp_path / "runs.jsonl"
    probs.mkdir()
    labels = np.array([0, 1, 2, 0])
    np.savez(probs / "a.npz", labels=labels, **{"model.pt": one_hot([1, 1, 2, 1])[None]})
    np.savez(probs / "b.npz", labels=labels, **{"m1.pt": one_hot([0, 1, 2, 1])[None],
                                                 "m2.pt": one_hot([0, 1, 2, 0])[None]})
    assert accuracy_main(["--compare", "a", "b", "--probs-dir", str(probs), "--output", str(out)]) == 0
    line = json.loads(out.read_text())
    # b's two members averaged: row 3 ties 0.5/0.5 between classes 0 and 1, argmax takes 0 (right).
    assert (line["a"], line["b"], line["errors_a"], line["errors_b"]) == ("a", "b", 2, 0)
    capsys.readouterr()


# -- the presets table ---------------------------------------------------------------------------

def recorded(preset: str, errors: int, seed: int, **changes) -> dict:
    config = {**asdict(replace(config_for(preset), seed=seed, time_budget_min=None, device="cpu")), **changes}
    return {"bench": "accuracy", "run_id": f"r{seed}", "preset": preset, "config": config, "errors": errors,
            "rows": 10_000, "holdout": {"rows": 10_000}, "wall_s": 600, "cpu_s": 1200, "when": "2026-12-05T10:00",
            "commit": "abc1234", "variants": {}, "train_subset": None, "holdout_half": None}


def test_only_runs_of_the_current_recipe_count_for_a_preset():
    lines = [recorded("default", 40, 24), recorded("default", 38, 31), recorded("default", 30, 32, epochs=31),
             {**recorded("default", 20, 33), "train_subset": 16_000}, recorded("fast", 55, 24)]
    assert [r["run_id"] for r in runs_of(lines, "default")] == ["r24", "r31"]
    text = row("default", runs_of(lines, "default"))
    assert text.startswith("| `default` | 40, 38 (seeds 24, 31) | **99.61%** [")
    assert text.endswith("| 10.0 | 20.0 | 2026-12-05; abc1234; machine by date (Machines, below) |")
    mixed = row("default", [{**recorded("default", 40, 24), "machine": "AMD EPYC, 2 cores"}, recorded("default", 38, 31)])
    assert mixed.endswith("; abc1234; AMD EPYC, 2 cores; earlier runs' machine by date (Machines, below) |")
    assert row("best", []) == "| `best` | not measured since the recipe changed | | | | | |"


def test_an_ensembles_overlap_is_named_by_seed_and_a_run_without_it_says_so():
    overlap = {"member_errors": {"m1": 52, "m2": 44}, "phi_mean": 0.81, "all_miss": 32, "any_miss": 65}
    lines = [recorded("best", 46, 40), {**recorded("best", 45, 41), "variants": {"overlap": overlap}}]
    text = row("best", runs_of(lines, "best"))
    assert "| seed 40: not recorded; seed 41: phi 0.81, all 32 / any 65 (members 44-52) |" in text
    assert "| one model |" in row("default", [recorded("default", 40, 24)])


def test_docs_training_holds_the_presets_table_the_harness_prints():
    printed = table(ROOT / "bench" / "results" / "accuracy.jsonl")
    assert printed in (ROOT / "docs" / "training.md").read_text(encoding="utf-8"), \
        "docs/training.md's presets table differs from `python -m bench.accuracy --presets`"
