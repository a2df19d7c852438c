"""A competition's files in data/<competition>/: what must be there, and unpacking an archive into it.

Competitions ship more than the three files a job needs (Kannada-MNIST adds Dig-MNIST.csv), some
in folders, some spelling the sample `sampleSubmission.csv` (or `example_submission.csv`, as FER-2013
and community competitions do), newer ones shipping Parquet
(`train.parquet`), older ones zipping each file inside the download (`train.csv.zip`). The three are
found by name when the archive is unpacked and their places recorded in files.json beside the sha256s.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.base.atomic import atomic_write_text, writer_pid
from core.base.errors import BadInput
from core.base.hashing import sha256_file
from core.base.log import Log
from core.data.archive import extracted, unpack_inner

RECORD = "files.json"  # sha256 of the archive and of each file, written after a complete unpack
TRAIN_NAME, TEST_NAME, SAMPLE_NAME = "train.csv", "test.csv", "sample_submission.csv"
# role -> file names it may have, matched case-insensitively, in order of preference (two beside each
# other: the first wins); the first is the one named when none is there. The pixel reader takes CSV,
# gzipped or zipped CSV and Parquet alike (a folder of Kaggle's one-file downloads holds train.csv.zip);
# a sample is always plain CSV.
ROLES = {"train": (TRAIN_NAME, "train.parquet", "train.csv.gz", "train.csv.zip"),
         "test": (TEST_NAME, "test.parquet", "test.csv.gz", "test.csv.zip"),
         "sample": (SAMPLE_NAME, "samplesubmission.csv", "example_submission.csv")}
SHOWN = 12  # file names listed when one is missing


@dataclass(frozen=True)
class CompetitionFiles:
    directory: Path

    @property
    def train(self) -> Path:
        return self.path_of("train")

    @property
    def test(self) -> Path:
        return self.path_of("test")

    @property
    def sample(self) -> Path:
        return self.path_of("sample")

    def path_of(self, role: str) -> Path:
        return self.paths()[role]

    def paths(self, record: dict | None = None) -> dict[str, Path]:
        """role -> where files.json (`record`, read here when not given) says the file is, else the
        top-level file with one of the role's names. One read of files.json and of the folder."""
        recorded = (self.record() if record is None else record).get("paths")
        recorded = recorded if isinstance(recorded, dict) else {}
        present = None
        found = {}
        for role, names in ROLES.items():
            place = recorded.get(role)
            if isinstance(place, str) and _inside(place):
                found[role] = self.directory / place
                continue
            if present is None:
                present = self._present()
            found[role] = self.directory / next((present[name] for name in names if name in present), names[0])
        return found

    def _present(self) -> dict[str, str]:
        """lower-cased name -> name of what the folder holds."""
        try:
            return {name.lower(): name for name in os.listdir(self.directory)}
        except OSError:
            return {}

    def record(self) -> dict:
        path = self.directory / RECORD
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def check(self, *roles: str) -> "CompetitionFiles":
        """BadInput unless the files of `roles` (default: all three) are there."""
        missing = [ROLES[role][0] for role, path in self.paths().items()
                   if role in (roles or ROLES) and not path.is_file()]
        if missing:
            raise BadInput(f"{self.directory}: missing {', '.join(missing)}; run `kaggle-job download` first")
        return self


def check_replaceable(files: CompetitionFiles) -> None:
    """BadInput when unpacking into `files.directory` would lose something: the folder is replaced
    whole (core.data.archive.extracted), so it may hold only what an unpack put there (files.json
    lists it) and the competition's own file names (a folder unzipped by hand). `--data-dir ~/work`
    deleted everything else in ~/work. Checked only when an unpack is due (a run that finds the data
    unchanged leaves the folder alone), and before the download."""
    target = files.directory
    if not target.exists():
        return
    if target.resolve() in (here := Path.cwd().resolve(), *here.parents):
        raise BadInput(f"{target}: is the current folder or holds it; unpacking replaces the folder whole, "
                       "so give a folder inside it (--data-dir data)")
    if not target.is_dir():
        raise BadInput(f"{target}: is a file; expected the folder to unpack the competition into")
    ours = {RECORD} | {PurePosixPath(name).parts[0] for name in files.record().get("files") or {}}
    known = {name for names in ROLES.values() for name in names}
    foreign = sorted(name for name in os.listdir(target)
                     if name not in ours and name.lower() not in known and writer_pid(name) is None)
    if foreign:
        raise BadInput(f"{target}: holds {_listing([Path(name) for name in foreign])}, which no download put there; "
                       "unpacking replaces the folder whole, so move them (or unpack elsewhere: --data-dir)")


def locate(written: list[Path], source: Path) -> dict[str, str]:
    """role -> relative path of the train, test and sample files among an archive's `written` files.

    The shallowest file with a role's name wins, then the preferred name (ROLES); two such, or none,
    is an error that lists what the archive holds.
    """
    paths = {}
    for role, names in ROLES.items():
        rank = {rel: (len(rel.parts), names.index(rel.name.lower())) for rel in written if rel.name.lower() in names}
        if not rank:
            raise BadInput(f"{source}: no {names[0]} in the archive; it holds {_listing(written)}")
        best = min(rank.values())
        top = sorted(rel.as_posix() for rel, place in rank.items() if place == best)
        if len(top) > 1:
            raise BadInput(f"{source}: {len(top)} candidates for {names[0]} ({', '.join(top[:SHOWN])}); expected one")
        paths[role] = top[0]
    return paths


def install(archive: Path, files: CompetitionFiles, extra: dict, force: bool, log: Log) -> CompetitionFiles:
    """Unpack `archive` into a staging folder, check it, then swap it into place whole.

    `extra` is recorded in files.json beside the sha256s (e.g. Kaggle's file listing). An archive
    whose sha256 matches the last unpacked one, with every file intact, is not unpacked again.
    """
    target = files.directory
    digest = sha256_file(archive)
    record = files.record()
    if not force and record.get("archive_sha256") == digest and intact(files, record):
        if extra.get("remote_files") != record.get("remote_files"):
            atomic_write_text(target / RECORD, json.dumps({**record, **extra}, indent=2) + "\n")
        log.info(f"{target}: unchanged (archive sha256 {digest[:12]}), skipping unpack",
                 event="download.skip", data_dir=target)
        return files
    check_replaceable(files)
    with extracted(archive, target) as (staging, written):  # refuses hostile members
        written = _unzip_missing_roles(staging, written, archive)
        paths = locate(written, archive)
        new_record = {**extra, "archive_sha256": digest, "paths": paths,
                      "files": {rel.as_posix(): sha256_file(staging / rel) for rel in sorted(written)}}
        atomic_write_text(staging / RECORD, json.dumps(new_record, indent=2) + "\n")
    log.info(f"unpacked {len(written)} files into {target}", event="download.done", data_dir=target,
             archive_sha256=digest, **{role: path for role, path in paths.items()})
    return files


def _unzip_missing_roles(staging: Path, written: list[Path], source: Path) -> list[Path]:
    """Older competitions zip each file inside the download (`train.csv.zip`, `test.zip`): a role with
    no unzipped file of its names is looked for in inner zips named for it, unpacked beside themselves
    (not streamed as a folder's train.csv.zip is: an inner zip may hold Parquet, or several files). Only
    then: an inner `train.zip` of 25,000 images is not unpacked where a train.csv already is."""
    for names in ROLES.values():
        if any(rel.name.lower() in names and not rel.name.lower().endswith(".zip") for rel in written):
            continue
        zipped = {f"{name}.zip" for name in names} | {f"{name.split('.')[0]}.zip" for name in names}
        for inner in sorted((rel for rel in written if rel.name.lower() in zipped), key=lambda r: r.as_posix()):
            written = [rel for rel in written if rel != inner] + unpack_inner(staging, inner, source)
    return written


def intact(files: CompetitionFiles, record: dict) -> bool:
    """Every expected file is there and every recorded file still has its recorded sha256."""
    recorded = record.get("files") or {}
    if not all(path.is_file() for path in files.paths(record).values()) or not recorded:
        return False
    for name, digest in recorded.items():
        path = files.directory / name
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return True


def _inside(relative: str) -> bool:
    """A recorded path that stays inside the folder (files.json is ours, but it is still a file)."""
    pure = PurePosixPath(relative)
    return not pure.is_absolute() and ".." not in pure.parts and bool(pure.parts)


def _listing(written: list[Path]) -> str:
    names = sorted(rel.as_posix() for rel in written)
    if not names:
        return "no files"
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
