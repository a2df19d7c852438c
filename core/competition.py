"""Getting a competition's files into data/<competition>/: from Kaggle, or the embedded demo."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core import demo, kaggle_api
from core.archive import safe_extract
from core.atomic import atomic_write_text
from core.errors import BadInput
from core.hashing import sha256_file
from core.log import Log
from core.workspace import Workspace

RECORD = "files.json"  # sha256 of the archive and of each file, written after a complete unpack
EXPECTED = ("train.csv", "test.csv", "sample_submission.csv")


@dataclass(frozen=True)
class CompetitionFiles:
    directory: Path

    @property
    def train(self) -> Path:
        return self.directory / "train.csv"

    @property
    def test(self) -> Path:
        return self.directory / "test.csv"

    @property
    def sample(self) -> Path:
        return self.directory / "sample_submission.csv"

    def record(self) -> dict:
        path = self.directory / RECORD
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def check(self) -> "CompetitionFiles":
        missing = [name for name in EXPECTED if not (self.directory / name).is_file()]
        if missing:
            raise BadInput(f"{self.directory}: missing {', '.join(missing)}; run `kaggle-job download` first")
        return self


def fetch(workspace: Workspace, log: Log, force: bool = False, data_dir: Path | None = None) -> CompetitionFiles:
    """Download (or unpack the demo) into the data dir; skip when the archive is unchanged."""
    target = Path(data_dir) if data_dir else workspace.data_dir
    files = CompetitionFiles(target)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=_ensure(target.parent)) as tmp:
        if workspace.demo:
            archive = demo.DEMO_ZIP
        else:
            log.info(f"downloading {workspace.competition} from Kaggle", event="download.start")
            archive = kaggle_api.download_competition_zip(workspace.competition, Path(tmp))
        digest = sha256_file(archive)
        if not force and files.record().get("archive_sha256") == digest and _complete(files):
            log.info(f"{target}: unchanged (archive sha256 {digest[:12]}), skipping unpack",
                     event="download.skip", data_dir=target)
            return files
        extracted = safe_extract(archive, target)
    files.check()
    record = {"competition": workspace.competition, "demo": workspace.demo, "archive_sha256": digest,
              "files": {p.name: sha256_file(p) for p in sorted(extracted)}}
    atomic_write_text(target / RECORD, json.dumps(record, indent=2) + "\n")
    log.info(f"unpacked {len(extracted)} files into {target}", event="download.done", data_dir=target,
             archive_sha256=digest)
    return files


def _complete(files: CompetitionFiles) -> bool:
    return all((files.directory / name).is_file() for name in EXPECTED)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


