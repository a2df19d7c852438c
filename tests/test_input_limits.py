"""Hostile or surprising inputs to predict/score: labels the model does not know, pixel columns beyond the
model's, odd or absurd pixel indices, rows longer than a parse block, lines without end, and an input
whose own ids must be reconciled with the sample submission's."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from core.base.errors import BadInput
from core.data.layout import MAX_LINE_BYTES
from core.data.reader import read_pixels
from jobs.cli import app
from tests.cli_output import one_error, records

ROWS = 20


@pytest.fixture
def test_lines(demo_dir) -> list[str]:
    """Header + ROWS rows of the demo's labelled train.csv (label,pixel0..pixel783)."""
    with open(demo_dir / "train.csv", newline="") as handle:
        return [next(handle).rstrip("\r\n") for _ in range(ROWS + 1)]


def write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(runner, *args):
    return runner.invoke(app, [*args, "--log-format", "json"])


def rows_of(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


# -- 14.5: labels outside the model's classes ---------------------------------------------------------

def test_labels_outside_the_classes_are_reported_and_counted_wrong(runner, untrained_checkpoint, test_lines, tmp_path):
    lines = list(test_lines)
    for line_number, label in ((3, "12"), (8, "12"), (15, "ten")):  # a 0-9 model knows none of these
        lines[line_number - 1] = label + "," + lines[line_number - 1].split(",", 1)[1]
    source = write(tmp_path / "labelled.csv", lines)
    result = invoke(runner, "score", str(source), "--checkpoint", str(untrained_checkpoint))
    assert result.exit_code == 0, result.output
    warnings = [r for r in records(result) if r.get("event") == "score.unknown_labels"]
    assert len(warnings) == 1 and warnings[0]["rows"] == 3
    assert warnings[0]["msg"] == (f"{source}: 3 of {ROWS} rows have labels outside the model's 10 classes "
                                  "(data row 2: '12', data row 7: '12', data row 14: 'ten'); "
                                  "the accuracy counts them as wrong")
    done = [r for r in records(result) if r.get("event") == "score.result"][0]
    assert done["unknown_labels"] == 3
    assert "(3 with labels outside the model's classes, counted as wrong)" in done["msg"]


def test_labels_all_known_say_nothing_more(runner, untrained_checkpoint, test_lines, tmp_path):
    result = invoke(runner, "score", str(write(tmp_path / "ok.csv", test_lines)), "--checkpoint",
                    str(untrained_checkpoint))
    assert result.exit_code == 0, result.output
    assert not [r for r in records(result) if r.get("event") == "score.unknown_labels"]
    assert "outside" not in result.output


# -- 14.5: pixel columns are never ignored --------------------------------------------------------------

def test_ignore_extra_columns_never_drops_pixels_beyond_the_model(runner, untrained_checkpoint, tmp_path):
    source = tmp_path / "big.csv"  # 32x32 images for a 28x28 model
    source.write_text(",".join(f"pixel{i}" for i in range(1024)) + "\n" + ",".join(["0"] * 1024) + "\n")
    for extra in ((), ("--ignore-extra-columns",)):
        result = invoke(runner, "predict", "--checkpoint", str(untrained_checkpoint), "--input", str(source),
                        "--output", str(tmp_path / "out.csv"), *extra)
        assert result.exit_code == 2, result.output
        assert one_error(result) == f"{source}: line 1: 1024 pixel columns (pixel0..pixel1023); expected 784 " \
                                    "(pixel0..pixel783)"
        assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("name, reason", [
    ("pixel007", "a pixel index has no leading zeros"),
    ("pixel\u0663", "a pixel index must be ASCII digits 0-9"),  # an Arabic-Indic three
    ("pixel99999999999", "index beyond the largest image read (4,194,304 pixels)"),
])
def test_odd_pixel_indices_are_one_line(runner, untrained_checkpoint, tmp_path, name, reason):
    source = tmp_path / "odd.csv"
    header = [f"pixel{i}" for i in range(784)] + [name]
    source.write_text(",".join(header) + "\n" + ",".join(["0"] * 785) + "\n", encoding="utf-8")
    # A subprocess with a timeout: before the fix pixel99999999999 sent the header check after 10^11 columns.
    done = subprocess.run([sys.executable, "-m", "jobs", "predict", "--checkpoint", str(untrained_checkpoint),
                           "--input", str(source), "--output", str(tmp_path / "out.csv"), "--log-format", "json",
                           "--ignore-extra-columns"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if '"level": "error"' in line]
    assert len(errors) == 1 and "Traceback" not in done.stderr
    assert f"line 1, column 785: {name!r} is not a pixel column name: {reason}" in errors[0]


@pytest.mark.parametrize("kind, expected", [
    ("missing", "no such file"),
    ("folder", "is a folder, expected a file"),
    ("fifo", "not a regular file (a pipe or device cannot be read twice)"),
])
def test_an_input_that_is_not_a_file_says_what_it_is(runner, untrained_checkpoint, tmp_path, kind, expected):
    source = tmp_path / "input"
    if kind == "folder":
        source.mkdir()
    elif kind == "fifo":
        os.mkfifo(source)  # opened, it would block this test: the check must not open it
    result = runner.invoke(app, ["predict", "--checkpoint", str(untrained_checkpoint), "--input", str(source),
                                 "--output", str(tmp_path / "out.csv"), "--log-format", "json"])
    assert result.exit_code == 2
    assert one_error(result) == f"{source}: {expected}" + ("; save it to a file first" if kind == "fifo" else "")
    assert not (tmp_path / "out.csv").exists()


def test_a_checkpoint_that_is_a_folder_is_named_as_one(runner, demo_dir, tmp_path):
    result = runner.invoke(app, ["predict", "--checkpoint", str(tmp_path), "--input", str(demo_dir / "test.csv"),
                                 "--output", str(tmp_path / "out.csv"), "--log-format", "json"])
    assert result.exit_code == 2 and one_error(result) == f"checkpoint {tmp_path}: is a folder, expected a file"


def test_a_file_without_a_header_is_read_as_data_label_first(runner, untrained_checkpoint, tmp_path):
    """EMNIST's CSVs have no header: the label, then 784 pixels. Line 1 is then a row like any other."""
    source = tmp_path / "rows.csv"
    source.write_text("\n".join(",".join([str(k)] + [str(k)] * 784) for k in (7, 1, 2)) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["score", str(source), "--checkpoint", str(untrained_checkpoint), "--log-format", "json",
                                 "--output", str(tmp_path / "scored.csv")])
    assert result.exit_code == 0, result.output
    assert (f"{source}: no header (line 1 is a data row): line 1 read as data, column 1 as the label, the other 784 as "
            "pixels") in result.output
    assert "on 3 rows" in result.output  # line 1 is scored too
    for fields, expected in ((783, "its 783 fields are neither 784 pixels nor a label and 784 pixels"),
                             (786, "its 786 fields are neither 784 pixels nor a label and 784 pixels")):
        source.write_text(",".join(["7"] * fields) + "\n", encoding="utf-8")
        refused = runner.invoke(app, ["score", str(source), "--checkpoint", str(untrained_checkpoint),
                                      "--log-format", "json"])
        assert refused.exit_code == 2 and one_error(refused) == (
            f"{source}: line 1: numbers, not column names: the file has no header, and {expected}; add a header "
            "such as label,pixel0,pixel1,...")


def test_headerless_rows_are_read_whole_split_and_named_by_line(tmp_path):
    import gzip

    from core.base.errors import BadInput
    from core.data.layout import read_layout
    from core.data.reader import iter_batches
    from core.data.table import read_pixel_table
    from core.dist.shards import plan_parts

    rows = [[k % 3] + [(k * 7 + i // 2) % 256 for i in range(16)] for k in range(50)]  # repeats: a data row
    text = "\n".join(",".join(map(str, row)) for row in rows) + "\n"
    (tmp_path / "rows.csv").write_text(text)
    (tmp_path / "rows.csv.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "pixels.csv").write_text("\n".join(",".join(map(str, row[1:])) for row in rows) + "\n")
    table = read_pixel_table(tmp_path / "rows.csv")
    assert table.pixels.tolist() == [row[1:] for row in rows] and table.labels.tolist() == [str(r[0]) for r in rows]
    assert read_pixel_table(tmp_path / "pixels.csv").labels is None
    for name in ("rows.csv", "rows.csv.gz", "pixels.csv"):
        layout = read_layout(tmp_path / name, 16)
        shares = [batch.pixels for part in plan_parts(layout, 3) for batch in iter_batches(layout, 64, part)]
        assert np.concatenate(shares).tolist() == [row[1:] for row in rows], name
    # A data frame's default names (`pd.DataFrame(array).to_csv()`): names, and they number the pixels.
    for counting, row in (("0,1,2,3", "5,6,7,8"), ("1,2,3,4", "5,6,7,8"), ("label,0,1,2,3", "3,5,6,7,8"),
                          ("3,1,0,2,label", "8,6,5,7,3")):
        (tmp_path / "unique.csv").write_text(f"{counting}\n{row}\n")
        table = read_pixel_table(tmp_path / "unique.csv")
        assert table.pixels.tolist() == [[5, 6, 7, 8]], counting
        assert (table.labels is None) == ("label" not in counting) and (table.labels is None or table.labels[0] == "3")
    for header, expected in (("label,0,1,007", "column 4: '007' is not a pixel column name: a pixel index has no"),
                             ("label,0,1,pixel2", "column 4: 'pixel2' and '0' (column 2) name pixels in two ways"),
                             ("label,0,1,3", "missing column 2; expected 0..3")):
        (tmp_path / "unique.csv").write_text(f"{header}\n1,5,6,7\n")
        with pytest.raises(BadInput, match=re.escape(expected)):
            read_layout(tmp_path / "unique.csv")
    # Rows that repeat no number (images under 257 pixels can), as a float frame writes them, or with a label in
    # words: data. Before, the first was taken for names, the others were "duplicate column name '0.0'".
    for row, label in (("9,0,1,2,3", "9"), ("2,7,1,8,3", "2"), ("7.0,0.0,255.0,1e1,0.0", "7"), ("A,0,0,3,3", "A"),
                       ("4;0;0;3;3", "4"), ("B\t0\t0\t3\t3", "B")):
        delimiter = next(d for d in ",;\t" if d in row)  # the file's own separator throughout
        (tmp_path / "data.csv").write_text(f"{row}\n" + delimiter.join("15678") + "\n")
        table = read_pixel_table(tmp_path / "data.csv")
        assert table.labels.tolist() == [label, "1"] and table.pixels.shape == (2, 4), row
    (tmp_path / "data.csv").write_text('"0","9","5","5"\n"1","2","3","4"\n')  # quoted: still numbers, all pixels
    assert read_pixel_table(tmp_path / "data.csv").pixels.tolist() == [[0, 9, 5, 5], [1, 2, 3, 4]]
    (tmp_path / "data.csv").write_text("A,0,0,3\n")  # a worded first field is the label, never a pixel
    with pytest.raises(BadInput, match="its 4 fields are neither 4 pixels nor a label and 4 pixels"):
        read_layout(tmp_path / "data.csv", 4)
    (tmp_path / "ragged.csv").write_text(text + "1,2,3\n")
    with pytest.raises(BadInput, match="ragged.csv: line 51: 3 fields; expected 17 as in line 1"):
        read_pixel_table(tmp_path / "ragged.csv")
    for line, value in ((1, "256"), (5, "-1")):
        bad = [list(map(str, row)) for row in rows]
        bad[line - 1][3] = value
        (tmp_path / "bad.csv").write_text("\n".join(",".join(row) for row in bad) + "\n")
        with pytest.raises(BadInput, match=rf"bad.csv: line {line}, column 4 \(pixel2\): value '{value}' is out"):
            read_pixel_table(tmp_path / "bad.csv")


# -- 14.5: long rows and lines without end --------------------------------------------------------------

def _four_pixels_and_a_note(path, note_bytes: int, rows: int = 3):
    lines = ["pixel0,pixel1,pixel2,pixel3,note"]
    lines += [f"{i},2,3,4," + "x" * note_bytes for i in range(rows)] + ["9,9,9,9,short"]
    return write(path, lines)


def test_a_row_longer_than_a_parse_block_is_read(tmp_path):
    source = _four_pixels_and_a_note(tmp_path / "long.csv", 3 << 20)  # 3 MiB rows: pyarrow blocks are 1 MiB
    batches = list(read_pixels(source, ignore_extra=True))
    pixels = np.concatenate([b.pixels for b in batches])
    np.testing.assert_array_equal(pixels[:, 0], [0, 1, 2, 9])


def test_a_line_without_end_is_refused_in_bounded_memory(tmp_path):
    source = tmp_path / "endless.csv"
    with open(source, "wb") as handle:
        handle.write(b"pixel0,pixel1,pixel2,pixel3\n1,2,3,4\n")
        handle.write(b"5," * ((MAX_LINE_BYTES + (1 << 20)) // 2))  # one line of 17 MiB, no end
    tracemalloc.start()
    try:
        with pytest.raises(BadInput) as raised:
            list(read_pixels(source, block_bytes=1 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(raised.value) == (f"{source}: line 3: longer than 16 MiB (16,777,216 bytes with its line end); "
                                 "expected rows of 4 fields")
    assert peak < MAX_LINE_BYTES * 3


def test_a_header_without_end_is_refused_in_one_line(tmp_path):
    source = tmp_path / "header.csv"
    source.write_bytes(b"pixel0," * ((MAX_LINE_BYTES // 7) + 1000))
    with pytest.raises(BadInput) as raised:
        list(read_pixels(source))
    assert str(raised.value) == (f"{source}: line 1: longer than 16 MiB (16,777,216 bytes with its line end); "
                                 "expected a CSV header such as label,pixel0,pixel1,...")


def _row_of(size: int, first: int) -> bytes:
    """A row of exactly `size` bytes, its line end included: four pixels and a long note."""
    head = f"{first},2,3,4,".encode()
    return head + b"x" * (size - len(head) - 1) + b"\n"


@pytest.mark.parametrize("size", [MAX_LINE_BYTES - 1, MAX_LINE_BYTES, MAX_LINE_BYTES + 1])
def test_the_line_length_rule_is_one_rule_at_the_default_block(tmp_path, size):
    """MAX_LINE_BYTES counts the line end; the streaming reader at its default 4 MiB block, the
    header check and the error path all draw the line there. Each long row is followed by a valid one."""
    source = tmp_path / "long.csv"
    source.write_bytes(b"pixel0,pixel1,pixel2,pixel3,note\n1,2,3,4,a\n" + _row_of(size, 7) + b"9,9,9,9,short\n")
    if size <= MAX_LINE_BYTES:
        pixels = np.concatenate([batch.pixels for batch in read_pixels(source, ignore_extra=True)])
        np.testing.assert_array_equal(pixels[:, 0], [1, 7, 9])
        return
    with pytest.raises(BadInput) as raised:
        list(read_pixels(source, ignore_extra=True))
    assert str(raised.value) == (f"{source}: line 3: longer than 16 MiB (16,777,216 bytes with its line end); "
                                 "expected rows of 5 fields")


def test_a_header_one_byte_over_the_rule_with_its_line_end_is_refused(tmp_path):
    names = b"pixel0,pixel1,pixel2,pixel3,"
    source = tmp_path / "header.csv"
    source.write_bytes(names + b"x" * (MAX_LINE_BYTES - len(names)) + b"\n1,2,3,4,a\n")  # MAX + 1 bytes
    with pytest.raises(BadInput) as raised:
        list(read_pixels(source, ignore_extra=True))
    assert str(raised.value) == (f"{source}: line 1: longer than 16 MiB (16,777,216 bytes with its line end); "
                                 "expected a CSV header such as label,pixel0,pixel1,...")


# -- 14.6: the input's own ids against the sample's ------------------------------------------------------

def _with_ids(lines, ids):
    return ["ImageId," + lines[0]] + [f"{i},{line}" for i, line in zip(ids, lines[1:])]


def test_a_shuffled_input_with_ids_comes_out_in_the_samples_order(runner, tiny_checkpoint, test_lines,
                                                                   tmp_path):
    pixels_only = [line.split(",", 1)[1] for line in test_lines]
    sample = tmp_path / "sample_submission.csv"
    sample.write_text("ImageId,Label\n" + "".join(f"{i},0\n" for i in range(1, ROWS + 1)))
    ordered = write(tmp_path / "ordered.csv", _with_ids(pixels_only, range(1, ROWS + 1)))
    expected = tmp_path / "expected.csv"
    assert invoke(runner, "predict", "--checkpoint", str(tiny_checkpoint), "--input", str(ordered),
                  "--output", str(expected), "--sample", str(sample)).exit_code == 0

    order = np.random.default_rng(3).permutation(ROWS)
    shuffled_lines = [pixels_only[0]] + [pixels_only[1 + i] for i in order]
    shuffled = write(tmp_path / "shuffled.csv", _with_ids(shuffled_lines, [i + 1 for i in order]))
    out = tmp_path / "out.csv"
    result = invoke(runner, "predict", "--checkpoint", str(tiny_checkpoint), "--input", str(shuffled),
                    "--output", str(out), "--sample", str(sample))
    assert result.exit_code == 0, result.output
    assert rows_of(out) == rows_of(expected)  # each id keeps its own prediction, in the sample's order
    assert len({r[1] for r in rows_of(out)[1:]}) > 1  # (so the comparison above could tell rows apart)


def test_input_ids_not_in_the_sample_are_refused(runner, untrained_checkpoint, test_lines, tmp_path):
    pixels_only = [line.split(",", 1)[1] for line in test_lines]
    sample = tmp_path / "sample_submission.csv"
    sample.write_text("ImageId,Label\n" + "".join(f"{i},0\n" for i in range(1, ROWS + 1)))
    source = write(tmp_path / "test.csv", _with_ids(pixels_only, range(0, ROWS)))  # 0..19, sample 1..20
    out = tmp_path / "out.csv"
    result = invoke(runner, "predict", "--checkpoint", str(untrained_checkpoint), "--input", str(source),
                    "--output", str(out), "--sample", str(sample))
    assert result.exit_code == 2
    assert one_error(result) == (f"{source}: its ids differ from {sample}'s: 1 ('0') only in test.csv, "
                                 "1 ('20') only in the sample")
    assert not out.exists()

    repeated = write(tmp_path / "repeated.csv", _with_ids(pixels_only, [1] + list(range(2, ROWS + 1))[:-1] + [2]))
    again = invoke(runner, "predict", "--checkpoint", str(untrained_checkpoint), "--input", str(repeated),
                   "--output", str(out), "--sample", str(sample))
    assert again.exit_code == 2
    assert "id '2' appears more than once" in one_error(again)


def test_a_report_on_a_file_scored_with_ignored_columns(runner, untrained_checkpoint, test_lines, tmp_path):
    lines = ["note," + test_lines[0]] + [f"n{i}," + line for i, line in enumerate(test_lines[1:])]
    source = write(tmp_path / "noted.csv", lines)
    result = invoke(runner, "score", str(source), "--checkpoint", str(untrained_checkpoint), "--ignore-extra-columns",
                    "--report", str(tmp_path / "report"))
    assert result.exit_code == 0, result.output  # the report reads the pixels again, ignoring the same column
    assert (tmp_path / "report" / "misclassified.png").is_file()
