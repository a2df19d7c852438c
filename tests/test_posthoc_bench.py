"""bench.posthoc on a tiny checkpoint kept by bench.accuracy: the same holdout rows, so its "plain"
view makes exactly the errors bench.accuracy recorded, and every fix is scored beside it."""

from __future__ import annotations

import json

from bench import accuracy, posthoc
from bench.holdout import write_rows


def test_posthoc_scores_the_kept_checkpoint_on_the_same_rows(demo_dir, tmp_path, capsys):
    train_csv, model = tmp_path / "train.csv", tmp_path / "tiny.pt"
    write_rows(demo_dir / "train.csv", train_csv, range(1500))
    data = ["--train-csv", str(train_csv), "--holdout", "500"]
    assert accuracy.main(["--preset", "demo", "--set", "epochs=1", *data, "--checkpoint", str(model),
                                "--output", str(tmp_path / "runs.jsonl"), "--probs-dir", str(tmp_path)]) == 0
    trained = json.loads((tmp_path / "runs.jsonl").read_text().splitlines()[-1])
    capsys.readouterr()
    out = tmp_path / "posthoc.jsonl"
    assert posthoc.main([str(model), *data, "--output", str(out)]) == 0
    line = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == line
    assert line["rows"] == 500 and line["views"]["plain"] == trained["errors"]
    assert set(line["views"]) == {"plain", "bn-reestimated", *posthoc.WARPS}
    assert set(line["averaged"]) == set(posthoc.SCHEMES)
    assert all(0 <= errors <= 500 for errors in [*line["views"].values(), *line["averaged"].values()])
