"""bench/posthoc_bench.py on a tiny checkpoint kept by accuracy_bench: the same holdout rows, so its
"plain" view makes exactly the errors accuracy_bench recorded, and every fix is scored beside it."""

from __future__ import annotations

import json

from bench import accuracy_bench, posthoc_bench


def test_posthoc_scores_the_kept_checkpoint_on_the_same_rows(demo_dir, tmp_path, capsys):
    train_csv, model = tmp_path / "train.csv", tmp_path / "tiny.pt"
    accuracy_bench.write_rows(demo_dir / "train.csv", train_csv, range(1500))
    data = ["--train-csv", str(train_csv), "--holdout", "500"]
    assert accuracy_bench.main(["--preset", "demo", "--set", "epochs=1", *data, "--checkpoint", str(model),
                                "--output", str(tmp_path / "runs.jsonl"), "--probs-dir", str(tmp_path)]) == 0
    trained = json.loads((tmp_path / "runs.jsonl").read_text().splitlines()[-1])
    capsys.readouterr()
    out = tmp_path / "posthoc.jsonl"
    assert posthoc_bench.main([str(model), *data, "--output", str(out)]) == 0
    line = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == line
    assert line["rows"] == 500 and line["views"]["plain"] == trained["errors"]
    assert set(line["views"]) == {"plain", "bn-reestimated", *posthoc_bench.WARPS}
    assert set(line["averaged"]) == set(posthoc_bench.SCHEMES)
    assert all(0 <= errors <= 500 for errors in [*line["views"].values(), *line["averaged"].values()])
