"""Each guard of core.data.archive at its edge: the member that passes and the first that is refused,
with the message, and nothing left behind (no staging folder, no destination) when refused."""

from __future__ import annotations

import stat
import zipfile
import zlib

import pytest

from core.base.errors import BadInput
from core.data.archive import MAX_RATIO, extracted


def _zip(path, members: list[tuple[zipfile.ZipInfo | str, bytes]], compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for info, data in members:
            archive.writestr(info, data)
    return path


def _unpack(source, dest, **caps) -> list[str]:
    with extracted(source, dest, **caps) as (_, written):
        return sorted(rel.as_posix() for rel in written)


def _refused(source, tmp_path, expected: str, **caps) -> None:
    """Unpacking `source` into tmp_path/out raises BadInput `expected`, and leaves tmp_path/out's folder bare."""
    dest = tmp_path / "out" / "data"
    dest.parent.mkdir()
    with pytest.raises(BadInput) as raised:
        _unpack(source, dest, **caps)
    assert str(raised.value) == f"{source}: {expected}"
    assert list(dest.parent.iterdir()) == []  # no staging folder, no half-written destination


@pytest.fixture
def src(tmp_path):
    (tmp_path / "in").mkdir()
    return tmp_path / "in"


@pytest.mark.parametrize("name", ["/x.csv", "\\x.csv", "C:x.csv", "C:/x.csv", "/tmp/x.csv"])
def test_an_absolute_member_path_is_refused(src, tmp_path, name):
    info = zipfile.ZipInfo("placeholder")
    info.filename = name  # ZipInfo's constructor strips a leading '/' and a drive: a hostile writer need not
    source = _zip(src / "abs.zip", [("train.csv", b"label,pixel0\n1,0\n"), (info, b"owned")])
    _refused(source, tmp_path, f"refused archive member {name!r}: absolute path")
    assert not (tmp_path / "x.csv").exists()


def test_a_relative_member_beside_it_is_unpacked(src, tmp_path):
    source = _zip(src / "ok.zip", [("train.csv", b"a"), ("sub/C.csv", b"b")])  # 'C' alone is no drive
    assert _unpack(source, tmp_path / "data") == ["sub/C.csv", "train.csv"]


def test_a_symbolic_link_is_refused(src, tmp_path):
    link = zipfile.ZipInfo("test.csv")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16  # how `zip --symlinks` stores one: the target as content
    source = _zip(src / "link.zip", [("train.csv", b"a"), (link, b"/etc/passwd")])
    _refused(source, tmp_path, "refused archive member 'test.csv': symbolic link")


def test_a_plain_file_with_the_same_mode_bits_but_regular_type_is_unpacked(src, tmp_path):
    plain = zipfile.ZipInfo("test.csv")
    plain.external_attr = (stat.S_IFREG | 0o777) << 16
    source = _zip(src / "plain.zip", [(plain, b"1,2\n")])
    assert _unpack(source, tmp_path / "data") == ["test.csv"]
    assert (tmp_path / "data" / "test.csv").read_bytes() == b"1,2\n"


def _deflated_size(size: int) -> int:
    packer = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)  # as zipfile deflates
    return len(packer.compress(bytes(size)) + packer.flush())


def _zeros_at_the_ratio_cap() -> int:
    """A count of zero bytes that deflates to exactly 1/MAX_RATIO of itself."""
    return next(MAX_RATIO * packed for packed in range(100, 2000) if _deflated_size(MAX_RATIO * packed) == packed)


def test_the_compression_ratio_cap_passes_at_1000_and_refuses_above(src, tmp_path):
    size = _zeros_at_the_ratio_cap()
    at_cap = _zip(src / "at.zip", [("train.csv", bytes(size))], zipfile.ZIP_DEFLATED)
    above = _zip(src / "above.zip", [("train.csv", bytes(size + 1))], zipfile.ZIP_DEFLATED)
    for path, ratio in ((at_cap, MAX_RATIO), (above, None)):
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("train.csv")
        if ratio:
            assert info.file_size == MAX_RATIO * info.compress_size  # the premise: exactly at the cap
        else:
            assert info.compress_size == size // MAX_RATIO and info.file_size > MAX_RATIO * info.compress_size
    assert _unpack(at_cap, tmp_path / "data") == ["train.csv"]
    assert (tmp_path / "data" / "train.csv").stat().st_size == size
    _refused(above, tmp_path, "refused archive member 'train.csv': compression ratio too high")


def test_the_total_size_cap_counts_every_member_and_passes_at_the_cap(src, tmp_path):
    source = _zip(src / "two.zip", [("train.csv", b"x" * 600), ("empty/", b""), ("test.csv", b"y" * 400)])
    assert _unpack(source, tmp_path / "data", max_total_bytes=1000) == ["test.csv", "train.csv"]
    _refused(source, tmp_path, "refused archive: more than 999 bytes uncompressed", max_total_bytes=999)


def test_a_refused_archive_leaves_an_earlier_destination_as_it_was(src, tmp_path):
    dest = tmp_path / "out" / "data"
    _unpack(_zip(src / "good.zip", [("train.csv", b"old")]), dest)
    with pytest.raises(BadInput, match="symbolic link"):
        link = zipfile.ZipInfo("test.csv")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        _unpack(_zip(src / "bad.zip", [("train.csv", b"new"), (link, b"/etc/passwd")]), dest)
    assert (dest / "train.csv").read_bytes() == b"old"
    assert [p.name for p in dest.parent.iterdir()] == ["data"]  # no staging folder, no old copy
