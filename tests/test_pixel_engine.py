"""The pixel-file engine through the CLI: variants that must give identical predictions, and every
listed kind of bad input ending in one line naming file/line/column, exit 2 and no output file."""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import random

import numpy as np
import pytest

from core.base.errors import BadInput
from core.data.reader import read_pixels
from jobs.cli import app

ROWS = 60


@pytest.fixture
def base_lines(demo_dir) -> list[str]:
    """Header + ROWS real rows of the demo's test.csv (pixel0..pixel783, no label)."""
    with open(demo_dir / "test.csv", newline="") as handle:
        return [next(handle).rstrip("\r\n") for _ in range(ROWS + 1)]


def write_lines(path, lines, end="\n", newline="\n", bom=False, compress=False):
    text = ("\ufeff" if bom else "") + newline.join(lines) + end
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def zipped(path, files: dict[str, bytes]):
    """A zip of `files`, as `kaggle competitions download -f test.csv` gives test.csv.zip."""
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _zip_of_lines(path, lines, **options):
    text = write_lines(path, lines, **options).read_bytes()
    return zipped(path.with_suffix(".csv.zip"), {"data/test.csv": text})


def with_cell(lines, line_number, column_name, value):
    """Replace one cell, addressed the way the error messages address it (1-based line, column name)."""
    header = lines[0].split(",")
    out = list(lines)
    fields = out[line_number - 1].split(",")
    fields[header.index(column_name)] = value
    out[line_number - 1] = ",".join(fields)
    return out


def predict(runner, checkpoint, source, output, *extra):
    return runner.invoke(app, ["predict", "--checkpoint", str(checkpoint), "--input", str(source),
                               "--output", str(output), "--log-format", "json", *extra])


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


# -- variants that must just work ---------------------------------------------------------------

def _reordered(lines):
    order = list(range(len(lines[0].split(","))))
    random.Random(7).shuffle(order)
    return [",".join(line.split(",")[i] for i in order) for line in lines]


def _as_floats(lines, every=1):
    """Pixels as a pandas float frame writes them ("12.0"), on every `every`-th row."""
    return [lines[0]] + [",".join(v + ".0" for v in line.split(",")) if i % every == 0 else line
                         for i, line in enumerate(lines[1:])]


def _separated(lines, delimiter):
    return [line.replace(",", delimiter) for line in lines]


def _with_label(lines):
    return ["label," + lines[0]] + [f"{i % 10}," + line for i, line in enumerate(lines[1:])]


VARIANTS = {
    "crlf": lambda p, lines: write_lines(p, lines, newline="\r\n", end="\r\n"),
    "bom": lambda p, lines: write_lines(p, lines, bom=True),
    "reordered": lambda p, lines: write_lines(p, _reordered(lines)),
    "gzip": lambda p, lines: write_lines(p.with_suffix(".csv.gz"), lines, compress=True),
    "no-final-newline": lambda p, lines: write_lines(p, lines, end=""),
    "label-column": lambda p, lines: write_lines(p, _with_label(lines)),
    "floats": lambda p, lines: write_lines(p, _as_floats(lines)),
    "some-rows-floats": lambda p, lines: write_lines(p, _as_floats(lines, every=7)),
    "crlf-bom-gzip-reordered": lambda p, lines: write_lines(
        p.with_suffix(".csv.gz"), _reordered(lines), newline="\r\n", bom=True, compress=True),
    "zip": lambda p, lines: _zip_of_lines(p, lines),
    "semicolons": lambda p, lines: write_lines(p, _separated(lines, ";")),
    "spaces": lambda p, lines: write_lines(p, _separated(lines, " ")),
    "tabs-crlf": lambda p, lines: write_lines(p.with_suffix(".tsv"), _separated(lines, "\t"), newline="\r\n",
                                              end="\r\n"),
    "pipes-gzip-reordered": lambda p, lines: write_lines(p.with_suffix(".csv.gz"), _separated(_reordered(lines), "|"),
                                                         compress=True),
    "zip-from-a-mac": lambda p, lines: zipped(p.with_suffix(".zip"), {
        "test.csv": write_lines(p, lines).read_bytes(), "__MACOSX/._test.csv": b"\0\5\x16\7", ".DS_Store": b"x"}),
    "crlf-bom-zip-reordered": lambda p, lines: _zip_of_lines(p, _reordered(lines), newline="\r\n", bom=True),
    # `bzip2 test.csv`, `xz test.csv`, pandas' to_csv("test.csv.bz2"): "binary data, not CSV text" before
    "bz2": lambda p, lines: write_bytes(p.with_suffix(".csv.bz2"), bz2.compress(("\n".join(lines) + "\n").encode())),
    "xz-crlf-reordered": lambda p, lines: write_bytes(
        p.with_suffix(".csv.xz"), lzma.compress(("\r\n".join(_reordered(lines)) + "\r\n").encode())),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_give_identical_predictions(runner, untrained_checkpoint, base_lines, tmp_path, variant):
    plain = write_lines(tmp_path / "plain.csv", base_lines)
    assert predict(runner, untrained_checkpoint, plain, tmp_path / "plain_out.csv").exit_code == 0
    source = VARIANTS[variant](tmp_path / "variant.csv", base_lines)
    result = predict(runner, untrained_checkpoint, source, tmp_path / "variant_out.csv")
    assert result.exit_code == 0, result.output
    expected = read_rows(tmp_path / "plain_out.csv")
    assert len(expected) == ROWS + 1
    assert read_rows(tmp_path / "variant_out.csv") == expected


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.float64, np.float32])
def test_parquet_gives_identical_predictions(runner, untrained_checkpoint, base_lines, tmp_path, dtype):
    import pyarrow as pa
    import pyarrow.parquet as pq

    plain = write_lines(tmp_path / "plain.csv", base_lines)
    assert predict(runner, untrained_checkpoint, plain, tmp_path / "plain_out.csv").exit_code == 0
    names = base_lines[0].split(",")
    values = np.array([[int(v) for v in line.split(",")] for line in base_lines[1:]], dtype=dtype)
    assert values.max() == 255  # the top of the range is in the file
    pq.write_table(pa.table({name: values[:, i] for i, name in enumerate(names)}), tmp_path / "in.parquet")
    result = predict(runner, untrained_checkpoint, tmp_path / "in.parquet", tmp_path / "pq_out.csv")
    assert result.exit_code == 0, result.output
    assert read_rows(tmp_path / "pq_out.csv") == read_rows(tmp_path / "plain_out.csv")


def test_ignore_extra_columns_opt_in(runner, untrained_checkpoint, base_lines, tmp_path):
    lines = ["note," + base_lines[0]] + ["x," + line for line in base_lines[1:]]
    source = write_lines(tmp_path / "extra.csv", lines)
    refused = predict(runner, untrained_checkpoint, source, tmp_path / "out.csv")
    assert refused.exit_code == 2
    assert "column 1: unexpected column 'note'" in refused.output
    plain = write_lines(tmp_path / "plain.csv", base_lines)
    assert predict(runner, untrained_checkpoint, plain, tmp_path / "plain_out.csv").exit_code == 0
    accepted = predict(runner, untrained_checkpoint, source, tmp_path / "out.csv", "--ignore-extra-columns")
    assert accepted.exit_code == 0, accepted.output
    assert "ignoring column(s) 'note'" in accepted.output
    assert read_rows(tmp_path / "out.csv") == read_rows(tmp_path / "plain_out.csv")


# -- bad input: one line, exit 2, nothing written, earlier output untouched ---------------------

def write_bytes(path, data):
    path.write_bytes(data)
    return path


def _truncated_gzip(path, lines):
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    path = path.with_suffix(".csv.gz")
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


BAD = {
    # name: (make(path, lines) -> path, substrings the one error line must contain)
    "empty": (lambda p, ls: write_lines(p, [], end=""), ["line 1:", "empty"]),
    "header-only": (lambda p, ls: write_lines(p, ls[:1]), ["line 1:", "header only"]),
    "missing-column": (lambda p, ls: write_lines(p, [",".join(l.split(",")[:-1]) for l in ls]),
                       ["line 1:", "missing column pixel783"]),
    "duplicate-column": (lambda p, ls: write_lines(p, [ls[0].replace("pixel5,", "pixel4,", 1)] + ls[1:]),
                         ["line 1, column 6:", "duplicate column name 'pixel4'"]),
    "unknown-column": (lambda p, ls: write_lines(p, [ls[0] + ",colour"] + [l + ",1" for l in ls[1:]]),
                       ["line 1, column 785:", "unexpected column 'colour'"]),
    "row-too-short": (lambda p, ls: write_lines(p, ls[:7] + [ls[7].rsplit(",", 1)[0]] + ls[8:]),
                      ["line 8:", "783 fields; expected 784"]),
    "row-too-long": (lambda p, ls: write_lines(p, ls[:40] + [ls[40] + ",0"] + ls[41:]),
                     ["line 41:", "785 fields; expected 784"]),
    "not-integer": (lambda p, ls: write_lines(p, with_cell(ls, 3, "pixel10", "abc")),
                    ["line 3, column 11 (pixel10):", "'abc' is not an integer", "expected an integer 0..255"]),
    "float": (lambda p, ls: write_lines(p, with_cell(ls, 12, "pixel300", "12.5")),
              ["line 12, column 301 (pixel300):", "'12.5' is not an integer"]),
    "scaled-to-0..1": (lambda p, ls: write_lines(p, with_cell(_as_floats(ls), 6, "pixel7", "0.5")),
                       ["line 6, column 8 (pixel7):", "'0.5' is not an integer (pixels scaled to 0..1? write them"]),
    "float-above-255": (lambda p, ls: write_lines(p, with_cell(_as_floats(ls), 4, "pixel2", "256.0")),
                        ["line 4, column 3 (pixel2):", "'256.0' is out of range"]),
    "float-nan": (lambda p, ls: write_lines(p, with_cell(_as_floats(ls), ROWS, "pixel2", "nan")),
                  [f"line {ROWS}, column 3 (pixel2):", "'nan' is not an integer"]),
    "negative": (lambda p, ls: write_lines(p, with_cell(ls, 5, "pixel0", "-3")),
                 ["line 5, column 1 (pixel0):", "'-3' is out of range", "0..255"]),
    "above-255": (lambda p, ls: write_lines(p, with_cell(ls, ROWS + 1, "pixel783", "256")),
                  [f"line {ROWS + 1}, column 784 (pixel783):", "'256' is out of range"]),
    "empty-cell": (lambda p, ls: write_lines(p, with_cell(ls, 9, "pixel400", "")),
                   ["line 9, column 401 (pixel400):", "empty cell"]),
    "huge-column-name": (lambda p, ls: write_lines(p, [ls[0] + "," + "x" * 200_000] + [l + ",0" for l in ls[1:]]),
                         ["line 1:", "not a CSV header (field larger than field limit (131072))"]),
    "runs-of-spaces": (lambda p, ls: write_lines(p, _separated(ls, "  ")),
                       ["line 1:", "separated by runs of spaces (fixed-width text); expected one ',', ';', "]),
    "semicolons-bad-cell": (lambda p, ls: write_lines(p, _separated(with_cell(ls, 7, "pixel5", "x"), ";")),
                            ["line 7, column 6 (pixel5):", "'x' is not an integer"]),
    "tabs-short-row": (lambda p, ls: write_lines(p, _separated(ls[:4] + [ls[4].rsplit(",", 1)[0]], "\t")),
                       ["line 5:", "783 fields; expected 784"]),
    "binary-garbage": (lambda p, ls: write_bytes(p, random.Random(1).randbytes(5000)),
                       ["line 1:"]),
    "binary-after-header": (lambda p, ls: write_bytes(p, (ls[0] + "\n").encode() + b"\x00\xff\xfe" * 900),
                            ["line 2:", "binary data"]),
    "truncated-gzip": (_truncated_gzip, ["truncated"]),
    "truncated-bz2": (lambda p, ls: write_bytes(p.with_suffix(".csv.bz2"),
                                                bz2.compress(("\n".join(ls) + "\n").encode())[:3000]), ["truncated"]),
    "truncated-xz": (lambda p, ls: write_bytes(p.with_suffix(".csv.xz"),
                                               lzma.compress(("\n".join(ls) + "\n").encode())[:3000]), ["truncated"]),
    "xz-bad-cell": (lambda p, ls: write_bytes(p.with_suffix(".csv.xz"),
                                              lzma.compress(("\n".join(with_cell(ls, 9, "pixel400", "256")) + "\n")
                                                            .encode())),
                    ["line 9, column 401 (pixel400):", "'256' is out of range"]),
    "pandas-index": (lambda p, ls: write_lines(p, ["," + ls[0]] + [f"{i},{line}" for i, line in enumerate(ls[1:])]),
                     ["line 1, column 1: a data frame's index saved as a column? (to_csv(..., index=False)"]),
    "pandas-index-read-back": (lambda p, ls: write_lines(p, ["Unnamed: 0," + ls[0]] + ["7," + line for line in ls[1:]]),
                               ["line 1, column 1: a data frame's index saved as a column?"]),
    "utf16-excel-unicode-text": (lambda p, ls: write_bytes(p, "\n".join(_separated(ls, "\t")).encode("utf-16")),
                                 ["line 1: UTF-16 text (its byte order mark); expected UTF-8"]),
    "bare-cr-line-ends": (lambda p, ls: write_lines(p, ls, newline="\r", end="\r"),
                          ["line 1: lines end with a bare carriage return", "line ends"]),
    "zip-bad-cell": (lambda p, ls: _zip_of_lines(p, with_cell(ls, 9, "pixel400", "256")),
                     ["line 9, column 401 (pixel400):", "'256' is out of range"]),
    "truncated-zip": (lambda p, ls: write_bytes(p.with_suffix(".zip"),
                                                _zip_of_lines(p, ls).read_bytes()[:3000]), ["zip"]),
    "zip-of-two": (lambda p, ls: zipped(p.with_suffix(".zip"), {"a.csv": b"pixel0\n1\n", "b.csv": b"pixel0\n1\n"}),
                   ["a zip of 2 files (a.csv, b.csv); expected one CSV file in it, or unzip it"]),
    "zip-of-none": (lambda p, ls: zipped(p.with_suffix(".zip"), {}), ["a zip of 0 files (no files)"]),
    "zip-of-parquet": (lambda p, ls: zipped(p.with_suffix(".zip"), {"x/test.parquet": b"PAR1"}),
                       ["holds x/test.parquet, not a CSV; unzip it and give the file"]),
    "zip-of-gzip": (lambda p, ls: zipped(p.with_suffix(".zip"), {"test.csv.gz": gzip.compress(b"pixel0\n1\n")}),
                    ["holds test.csv.gz, not a CSV; unzip it"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(runner, untrained_checkpoint, base_lines, tmp_path, case):
    make, expected = BAD[case]
    source = make(tmp_path / "bad.csv", base_lines)
    output = tmp_path / "out" / "submission.csv"
    output.parent.mkdir()
    output.write_text("ImageId,Label\n1,7\n")  # an earlier run's file must survive untouched
    result = predict(runner, untrained_checkpoint, source, output)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if '"level": "error"' in line]
    assert len(errors) == 1, result.output
    assert str(source) in errors[0]
    for fragment in expected:
        assert fragment in errors[0], errors[0]
    assert output.read_text() == "ImageId,Label\n1,7\n"
    assert sorted(p.name for p in output.parent.iterdir()) == ["submission.csv"]


def test_bad_input_leaves_no_output_when_none_existed(runner, untrained_checkpoint, base_lines, tmp_path):
    source = write_lines(tmp_path / "bad.csv", with_cell(base_lines, 30, "pixel7", "x"))
    output = tmp_path / "fresh" / "submission.csv"
    result = predict(runner, untrained_checkpoint, source, output)
    assert result.exit_code == 2
    assert not output.exists()
    assert list(output.parent.iterdir()) == []  # the folder is made before the input is read; no temp file is left


def test_error_deep_in_a_streamed_file_names_the_exact_line(base_lines, tmp_path):
    """With small blocks the bad row sits many blocks in; the line number must still be exact."""
    lines = [base_lines[0]] + base_lines[1:] * 5  # 300 rows
    source = write_lines(tmp_path / "long.csv", with_cell(lines, 287, "pixel99", "999"))
    with pytest.raises(BadInput) as raised:
        list(read_pixels(source, 784, block_bytes=1 << 14))
    assert str(raised.value).startswith(f"{source}: line 287, column 100 (pixel99): value '999' is out of range")


def test_streaming_reader_yields_bounded_batches_in_order(base_lines, tmp_path):
    lines = [base_lines[0]] + base_lines[1:] * 5
    source = write_lines(tmp_path / "long.csv", lines)
    batches = list(read_pixels(source, 784, block_bytes=1 << 14))
    assert len(batches) > 5
    assert [b.first_row for b in batches] == list(np.cumsum([0] + [len(b.pixels) for b in batches[:-1]]))
    stacked = np.concatenate([b.pixels for b in batches])
    expected = np.array([[int(v) for v in line.split(",")] for line in lines[1:]], dtype=np.uint8)
    assert stacked.dtype == np.uint8
    np.testing.assert_array_equal(stacked, expected)


@pytest.mark.parametrize("dtype,bad,shown", [(np.int64, 256, "256"), (np.int64, -1, "-1"), (np.float64, 256, "256.0"),
                                             (np.float64, 12.5, "12.5"), (np.float32, np.nan, "nan"),
                                             (np.float64, -1, "-1.0")])
def test_parquet_out_of_range_names_row_and_column(runner, untrained_checkpoint, base_lines, tmp_path, dtype, bad,
                                                   shown):
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = base_lines[0].split(",")
    values = np.array([[int(v) for v in line.split(",")] for line in base_lines[1:]], dtype=dtype)
    values[17, 250] = bad
    source = tmp_path / "bad.parquet"
    pq.write_table(pa.table({name: values[:, i] for i, name in enumerate(names)}), source)
    result = predict(runner, untrained_checkpoint, source, tmp_path / "out.csv")
    assert result.exit_code == 2
    assert f"row 18, column pixel250: value {shown}; expected an integer 0..255" in result.output
    assert not (tmp_path / "out.csv").exists()


# -- sample_submission checks ----------------------------------------------------------------

def test_predict_checks_against_the_sample_and_uses_its_ids(runner, untrained_checkpoint, base_lines, tmp_path):
    data = tmp_path / "comp"
    data.mkdir()
    source = write_lines(data / "test.csv", base_lines)
    (data / "sample_submission.csv").write_text("ImageId,Label\n" + "".join(f"{i},0\n" for i in range(1, ROWS + 1)))
    result = predict(runner, untrained_checkpoint, source, tmp_path / "sub.csv")
    assert result.exit_code == 0, result.output
    assert "checked against" in result.output
    rows = read_rows(tmp_path / "sub.csv")
    assert rows[0] == ["ImageId", "Label"]
    assert [r[0] for r in rows[1:]] == [str(i) for i in range(1, ROWS + 1)]


def test_explicit_sample_with_other_row_count_fails_without_output(runner, untrained_checkpoint, base_lines,
                                                                  tmp_path):
    source = write_lines(tmp_path / "test.csv", base_lines)
    sample = tmp_path / "other_sample.csv"
    sample.write_text("ImageId,Label\n" + "".join(f"{i},0\n" for i in range(1, ROWS)))
    result = predict(runner, untrained_checkpoint, source, tmp_path / "sub.csv", "--sample", str(sample))
    assert result.exit_code == 2
    assert f"{ROWS} predictions, but {sample} has {ROWS - 1} rows" in result.output
    assert not (tmp_path / "sub.csv").exists()


# -- score ------------------------------------------------------------------------------------

def test_score_writes_rows_accuracy_and_probs(runner, tiny_checkpoint, demo_dir, tmp_path):
    import pyarrow.parquet as pq

    with open(demo_dir / "train.csv", newline="") as handle:
        lines = [next(handle).rstrip("\r\n") for _ in range(301)]
    source = write_lines(tmp_path / "labelled.csv", lines)
    result = runner.invoke(app, ["score", str(source), "--checkpoint", str(tiny_checkpoint),
                                 "--output", str(tmp_path / "scores.csv"), "--probs", str(tmp_path / "p.parquet"),
                                 "--log-format", "json"])
    assert result.exit_code == 0, result.output
    rows = read_rows(tmp_path / "scores.csv")
    assert rows[0][:3] == ["ImageId", "Label", "Confidence"]
    assert len(rows) == 301
    truth = [line.split(",")[0] for line in lines[1:]]
    accuracy = np.mean([r[1] == t for r, t in zip(rows[1:], truth)])
    assert f"accuracy {accuracy:.4f} on 300 rows" in result.output
    assert accuracy > 0.7
    probs = pq.read_table(tmp_path / "p.parquet")
    assert probs.column_names == ["ImageId"] + [f"p_{c}" for c in range(10)]
    matrix = np.column_stack([probs.column(f"p_{c}").to_numpy() for c in range(10)])
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, rtol=1e-5)
    assert [str(c) for c in matrix.argmax(axis=1)] == [r[1] for r in rows[1:]]
    np.testing.assert_allclose(matrix.max(axis=1), [float(r[2]) for r in rows[1:]], atol=1e-6)


@pytest.mark.parametrize("cell", ["", "  ", '""'])
def test_an_empty_id_is_one_line(runner, untrained_checkpoint, base_lines, tmp_path, cell):
    lines = ["id," + base_lines[0]] + [f"{i}," + line for i, line in enumerate(base_lines[1:])]
    lines[4] = cell + lines[4][lines[4].index(","):]
    result = predict(runner, untrained_checkpoint, write_lines(tmp_path / "ids.csv", lines), tmp_path / "out.csv")
    assert result.exit_code == 2
    assert f"{tmp_path / 'ids.csv'}: line 5, column 1 (id): empty cell; expected an id" in result.output
    assert not (tmp_path / "out.csv").exists()


def test_an_empty_parquet_id_is_one_line_and_repeated_ids_a_warning(runner, untrained_checkpoint, base_lines,
                                                                     tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = base_lines[0].split(",")
    values = np.array([[int(v) for v in line.split(",")] for line in base_lines[1:]], dtype=np.uint8)
    columns = {name: values[:, i] for i, name in enumerate(names)}
    ids = [str(i) for i in range(ROWS)]
    pq.write_table(pa.table({"id": ids[:7] + [None] + ids[8:], **columns}), tmp_path / "null.parquet")
    result = predict(runner, untrained_checkpoint, tmp_path / "null.parquet", tmp_path / "out.csv")
    assert result.exit_code == 2 and "data row 8, column id: empty cell; expected an id" in result.output
    pq.write_table(pa.table({"id": ids[:7] + ["3"] + ids[8:], **columns}), tmp_path / "again.parquet")
    result = predict(runner, untrained_checkpoint, tmp_path / "again.parquet", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    assert "id '3' appears more than once; written as in the input" in result.output
    assert [row[0] for row in read_rows(tmp_path / "out.csv")[1:]] == ids[:7] + ["3"] + ids[8:]


def test_a_zipped_csv_is_cut_into_rank_shares_like_a_gzip_one(base_lines, tmp_path):
    """Under torchrun each rank inflates the zip member from the start and keeps its own share."""
    from core.data.layout import read_layout
    from core.data.reader import iter_batches
    from core.dist.shards import plan_parts

    lines = [base_lines[0]] + base_lines[1:] * 40  # 2,400 rows: several 64 KiB cut candidates
    layout = read_layout(_zip_of_lines(tmp_path / "rows.csv", lines), 784)
    assert (layout.compression, layout.member) == ("zip", "data/test.csv")
    parts = plan_parts(layout, 3)
    shares = [np.concatenate([b.pixels for b in iter_batches(layout, 1 << 16, part)]) for part in parts]
    assert all(len(share) for share in shares)
    expected = np.array([[int(v) for v in line.split(",")] for line in lines[1:]], dtype=np.uint8)
    np.testing.assert_array_equal(np.concatenate(shares), expected)
