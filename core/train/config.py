"""Training settings: TrainConfig and the presets (demo, fast, default, best) measured in the README."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.base.errors import BadInput
from core.model.registry import DEFAULT_ARCH
from core.train.augment import AugmentConfig


@dataclass
class TrainConfig:
    arch: str = DEFAULT_ARCH
    epochs: int = 10
    batch_size: int = 128
    lr: float = 3e-3
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    label_smoothing: float = 0.1
    time_budget_min: float | None = None  # whole run, loading included; the schedule fits inside it
    arch_kwargs: dict = field(default_factory=dict)
    weight_decay: float = 5e-4
    shift_px: float = 2.0
    rotate_deg: float = 10.0
    zoom: float = 0.1
    elastic_px: float = 0.0  # elastic distortion strength (core.train.augment); 0 = off
    patience: int | None = None  # stop after this many epochs without a better validation accuracy
    members: int = 1  # > 1: an ensemble of members with seeds seed, seed+1, ... on one shared split
    tta: bool = False  # bundle test-time shifts into the checkpoint
    split_seed: int | None = None  # seed of the validation split; None: `seed`
    resume: bool = False  # continue from the state file beside the checkpoint, if there is one

    @property
    def augmentation(self) -> AugmentConfig:
        return AugmentConfig(shift_px=self.shift_px, rotate_deg=self.rotate_deg, zoom=self.zoom,
                             elastic_px=self.elastic_px)


# The recipe behind `default`, measured on 2 CPU cores (see README, Training): leannet, ±2 px shifts,
# ±8° rotations and 8% zooms, AdamW + one-cycle, label smoothing 0.1, batch 128.
_RECIPE = dict(arch="leannet", batch_size=128, lr=3e-3, shift_px=2.0, rotate_deg=8.0, zoom=0.08)
_SMALL = {"stages": [16, 32, 64]}  # a quarter of the compute of the default widths

PRESETS: dict[str, TrainConfig] = {
    # The demo's 4.5k rows: a small net, light augmentation, well under a minute on 2 cores.
    # No time budget: the demo run must be reproducible.
    "demo": TrainConfig(**{**_RECIPE, "batch_size": 64, "lr": 4e-3, "shift_px": 1.0, "rotate_deg": 0.0,
                           "zoom": 0.0}, epochs=8, arch_kwargs=_SMALL),
    # >= 99.0% in <= 3 min on 2 cores.
    "fast": TrainConfig(**_RECIPE, epochs=14, arch_kwargs=_SMALL, time_budget_min=2.75),
    # >= 99.6% in <= 15 min on 2 cores.
    "default": TrainConfig(**_RECIPE, epochs=30, time_budget_min=14.5),
    # Several default members + test-time shifts; costs members x default on a CPU.
    "best": TrainConfig(**_RECIPE, epochs=30, members=3, tta=True),
}


def config_for(preset: str, **overrides) -> TrainConfig:
    if preset not in PRESETS:
        raise BadInput(f"--preset: expected one of {', '.join(PRESETS)}, got {preset!r}")
    base = PRESETS[preset]
    chosen = {k: v for k, v in overrides.items() if v is not None}
    if chosen.get("arch", base.arch) != base.arch and "arch_kwargs" not in chosen:
        chosen["arch_kwargs"] = {}  # the preset's kwargs belong to its own architecture
    unknown = sorted(set(chosen) - set(TrainConfig.__dataclass_fields__))
    if unknown:
        raise BadInput(f"unknown training option {unknown[0]!r}")
    return replace(base, **chosen)
