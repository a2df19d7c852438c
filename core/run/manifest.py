"""manifest.json: what produced a submission, so any file in submissions/ can be traced and compared.

Written beside submission.csv in the same folder, atomically, and rewritten (atomically) once the
submission is uploaded. Plain JSON, no git needed: content hashes identify the data and the model.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.base.atomic import atomic_write_text

MANIFEST = "manifest.json"
SUBMISSION = "submission.csv"  # the file a manifest describes, beside it
FORMAT = "kaggle-job-manifest/1"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_manifest(*, competition: str, demo: bool, rows: int, submission_sha256: str, command: str | None = None,
                   **fields: Any) -> dict:
    """A submission folder's manifest, before any upload: what every folder records about its file, then
    the `fields` of the command that made it (core.run.job for `run`, core.run.submit for `submit`).
    `command` names a command other than the scheduled run."""
    return {
        "format": FORMAT, "created": utc_now(), **({"command": command} if command else {}),
        "competition": competition, "demo": demo, "submission": SUBMISSION, "submission_sha256": submission_sha256,
        "rows": rows, **fields, "submitted": False,
    }


def write_manifest(folder: Path, manifest: dict) -> Path:
    path = Path(folder) / MANIFEST
    atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path


def read_manifest(folder: Path) -> dict | None:
    """The folder's manifest, or None when it has none or it is not valid JSON (never raises)."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def published_manifests(submissions_root: Path) -> list[tuple[Path, dict]]:
    """(folder, manifest) of every published submission folder with a readable manifest, by name."""
    root = Path(submissions_root)
    if not root.is_dir():
        return []
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [(folder, manifest) for folder in folders if (manifest := read_manifest(folder))]


def submitted_manifests(submissions_root: Path) -> list[dict]:
    """Manifests of real (non-demo) submissions that reached Kaggle, oldest first."""
    found = [m for _, m in published_manifests(submissions_root) if m.get("submitted") and not m.get("demo")]
    return sorted(found, key=lambda m: str(m.get("submitted_at") or m.get("created") or ""))
