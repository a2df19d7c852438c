"""Exactly-once submissions: a pending record before every upload, settled against Kaggle before the next.

When CreateSubmission's reply is lost (a 503 or timeout after Kaggle recorded it, a dropped
connection, kill -9 right after the upload) the uploader cannot tell whether the submission exists.
Uploading again on the next run would burn a second slot of the daily allowance on the same file.
So before uploading, the submission folder's manifest gets a pending record (written atomically):
the checkpoint's and the file's sha256 and a unique tag that also goes into the submission's
description. Before any later upload, each pending record is looked up in Kaggle's submissions
list by its tag and settled: found, it is `landed` (with Kaggle's ref; from then on it is the last
submission that "better than" compares with, and Kaggle's list counts it against the allowance);
not found, it is `lost` (nothing reached Kaggle; the file may be uploaded again).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from core.base.errors import ExitCode, JobError
from core.base.log import Log
from core.kaggle import api
from core.run.manifest import published_manifests, utc_now, write_manifest

TAG_RE = re.compile(r"\[(kj-[0-9a-f]{10})\]")
LISTED = 100  # submissions asked for when settling: 20 days of Digit Recognizer's 5 a day


def new_tag() -> str:
    return f"kj-{secrets.token_hex(5)}"


def tagged(message: str, tag: str) -> str:
    # In front: Kaggle may shorten a long description, and the tag must survive that.
    return f"[{tag}] {message}"


def record_pending(folder: Path, manifest: dict, message: str) -> str:
    """Write the pending record into the folder's manifest; returns the tagged description to upload with."""
    tag = new_tag()
    manifest["upload"] = {"state": "pending", "tag": tag, "description": tagged(message, tag),
                          "checkpoint_sha256": manifest.get("checkpoint_sha256"),
                          "submission_sha256": manifest.get("submission_sha256"), "started_at": utc_now()}
    write_manifest(folder, manifest)
    return manifest["upload"]["description"]


def record_landed(folder: Path, manifest: dict, ref: str, at: str, confirmed_by: str) -> None:
    manifest["upload"].update(state="landed", ref=str(ref), landed_at=at, confirmed_by=confirmed_by)
    manifest.update(submitted=True, submission_ref=str(ref), submitted_at=at)
    write_manifest(folder, manifest)


def record_failure(folder: Path, manifest: dict, error: JobError) -> None:
    """A network error leaves the outcome unknown (still pending, settled by the next run); any other
    error is Kaggle refusing before it recorded anything."""
    upload = manifest["upload"]
    upload["error"] = {"message": error.message, "exit_code": int(error.exit_code), "at": utc_now()}
    if error.exit_code != ExitCode.NETWORK:
        upload["state"] = "failed"
    write_manifest(folder, manifest)


def upload(folder: Path, manifest: dict, competition: str, message: str, log: Log) -> str:
    """Record pending -> upload -> record landed (or why not); returns Kaggle's ref."""
    description = record_pending(folder, manifest, message)
    try:
        ref = api.submit_file(competition, folder / manifest["submission"], description, log=log)
    except JobError as exc:
        record_failure(folder, manifest, exc)
        raise
    record_landed(folder, manifest, ref, utc_now(), confirmed_by="reply")
    return ref


def pending(submissions_root: Path) -> list[tuple[Path, dict]]:
    """Folders whose upload record is pending. A record edited out of shape (not a mapping, no tag)
    cannot be matched against Kaggle's list, so it is not taken for one."""
    return [(folder, manifest) for folder, manifest in published_manifests(submissions_root)
            if isinstance(upload := manifest.get("upload"), dict) and upload.get("state") == "pending"
            and isinstance(upload.get("tag"), str)]


def settle(submissions_root: Path, competition: str, log: Log) -> list[dict]:
    """Settle every pending record against Kaggle's list; returns the manifests found to have landed.

    A list call that fails raises (exit 6): no upload may happen while an earlier one is unsettled.
    """
    waiting = pending(submissions_root)
    if not waiting:
        return []
    listed = {match.group(1): item for item in api.list_submissions(competition, LISTED, log=log)
              for match in [TAG_RE.search(item.description or "")] if match}
    landed = []
    for folder, manifest in waiting:
        tag = manifest["upload"]["tag"]
        found = listed.get(tag)
        if found is not None:
            at = found.date.isoformat(timespec="seconds") + "Z" if found.date else utc_now()
            record_landed(folder, manifest, found.ref, at, confirmed_by="listing")
            landed.append(manifest)
            log.info(f"{folder.name}: the upload tagged {tag} did land on Kaggle (ref {found.ref}); its reply "
                     "had been lost", event="submit.settled", folder=folder, tag=tag, state="landed", ref=found.ref)
        else:
            manifest["upload"].update(state="lost", settled_at=utc_now())
            write_manifest(folder, manifest)
            log.warn(f"{folder.name}: Kaggle has no submission tagged {tag}: that upload never landed",
                     event="submit.settled", folder=folder, tag=tag, state="lost")
    return landed


def same_file(landed: list[dict], submission_sha256: str) -> dict | None:
    """The record among `landed` of this very file, if any."""
    return next((m for m in landed if m.get("submission_sha256") == submission_sha256), None)
