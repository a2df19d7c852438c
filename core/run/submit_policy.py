"""Whether a run uploads its submission: only when asked, and only when the model is better.

"Better" is judged on validation accuracy, the one number every checkpoint carries, against the
last submission that actually reached Kaggle (recorded in submissions/<competition>/*/manifest.json).
Daily submission slots are scarce; re-submitting an equal or worse model wastes one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubmitDecision:
    submit: bool
    reason: str

    def to_dict(self) -> dict:
        return {"submit": self.submit, "reason": self.reason}


def already_landed(record: dict) -> str:
    """Why a file whose lost upload was settled as landed is not uploaded again, by `run` or `submit`."""
    return (f"this very file already landed on Kaggle as ref {record.get('submission_ref')} "
            "(the reply to that upload was lost); not uploading it twice")


def _fraction(value) -> float | None:
    """A manifest's recorded accuracy when it is one (a number in [0, 1]); a hand-edited "0.99" or a
    NaN compares with nothing, so it counts as none recorded rather than failing the run."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        return None
    return float(value)


def decide(*, requested: bool, force: bool, demo: bool, val_accuracy: float | None,
           last_submitted: dict | None, landed_now: dict | None = None) -> SubmitDecision:
    """`last_submitted`: the latest manifest that reached Kaggle, a pending upload settled as landed
    included. `landed_now`: a submission of this very file whose lost reply was settled as landed in
    this run: uploading it again, even forced, would be the duplicate that exactly-once rules out."""
    if not requested:
        return SubmitDecision(False, "not requested (pass --submit to upload)")
    if demo:
        return SubmitDecision(False, "the demo is not a real competition: nothing is uploaded")
    if landed_now is not None:
        return SubmitDecision(False, already_landed(landed_now))
    if force:
        return SubmitDecision(True, "--force-submit")
    if last_submitted is None:
        return SubmitDecision(True, "no earlier submission recorded")
    previous = _fraction(last_submitted.get("val_accuracy"))
    when = last_submitted.get("submitted_at") or last_submitted.get("created") or "unknown time"
    if val_accuracy is None:
        return SubmitDecision(False, "the model has no validation accuracy to compare (it trained on every row, "
                                     "or recorded none); use --force-submit")
    if previous is None:
        return SubmitDecision(True, f"the last submission ({when}) recorded no validation accuracy")
    if val_accuracy > previous:
        return SubmitDecision(True, f"validation accuracy {val_accuracy:.4f} beats {previous:.4f} "
                                    f"of the last submission ({when})")
    return SubmitDecision(False, f"validation accuracy {val_accuracy:.4f} does not beat {previous:.4f} "
                                 f"of the last submission ({when}); use --force-submit to upload anyway")
