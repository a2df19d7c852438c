"""bench.formats runs small and checks every read against the images it wrote."""

from __future__ import annotations

import json

from bench import formats


def test_the_formats_bench_reads_five_layouts_alike(capsys):
    assert formats.main(["--rows", "40", "--side", "6", "--repeats", "1"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert set(line["median_s"]) == {"columns", "packed", "headerless", "gzip", "zip"} and line["pixels"] == 36
    assert line["vs_columns"]["columns"] == 1.0
    assert line["bytes"]["headerless"] < line["bytes"]["columns"]  # the same rows without the header line
