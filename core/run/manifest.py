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
FORMAT = "kaggle-job-manifest/1"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_manifest(*, competition: str, demo: bool, rows: int, submission_sha256: str,
                   data_sha256: dict[str, str], checkpoint: Path, checkpoint_sha256: str, trained: bool,
                   arch: str, val_accuracy: float | None, device: str, versions: dict[str, str],
                   timings_s: dict[str, float], **extra: Any) -> dict:
    return {
        "format": FORMAT, "created": utc_now(), "competition": competition, "demo": demo,
        "submission": "submission.csv", "submission_sha256": submission_sha256, "rows": rows,
        "data_sha256": data_sha256, "checkpoint": str(checkpoint), "checkpoint_sha256": checkpoint_sha256,
        "trained_this_run": trained, "arch": arch, "val_accuracy": val_accuracy, "device": device,
        "versions": versions, "timings_s": {k: round(v, 2) for k, v in timings_s.items()},
        "submitted": False, **extra,
    }


def build_submit_manifest(*, competition: str, rows: int, submission_sha256: str, checkpoints: list[Path],
                          checkpoint_sha256: str | None, val_accuracy: float | None, source_file: Path | None,
                          message: str) -> dict:
    """The manifest of a `kaggle-job submit`: what was uploaded and what produced it, as far as known."""
    return {
        "format": FORMAT, "created": utc_now(), "command": "submit", "competition": competition, "demo": False,
        "submission": "submission.csv", "submission_sha256": submission_sha256, "rows": rows,
        "source_file": str(source_file) if source_file else None, "checkpoints": [str(p) for p in checkpoints],
        "checkpoint_sha256": checkpoint_sha256, "val_accuracy": val_accuracy, "message": message,
        "submitted": False,
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
