"""The model registry: every architecture by name, each built from (in_channels, height, width,
num_classes), which is the answer to the seed notebook's closing question: any number of classes,
any input size. The networks register themselves in core.model.networks and core.model.ensemble.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from torch import nn

from core.base.errors import BadInput, did_you_mean

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
DEFAULT_ARCH = "leannet"
# Built from trained members (core.train.members), never trained by name.
NOT_TRAINABLE = frozenset({"ensemble"})
# What every factory is given; the rest of its parameters are the architecture's settings (--arch-kwargs).
_SHAPE_ARGS = ("in_channels", "height", "width", "num_classes")


def register(name: str):
    def wrap(factory):
        _REGISTRY[name] = factory
        return factory

    return wrap


def available() -> list[str]:
    return sorted(_REGISTRY)


def trainable() -> list[str]:
    """The architectures `train --arch` takes."""
    return sorted(set(_REGISTRY) - NOT_TRAINABLE)


def check_trainable(arch: str, kwargs: dict) -> None:
    """BadInput unless `arch` is a trainable architecture and `kwargs` are settings it takes: checked
    before any data is read, so a typo costs nothing."""
    if arch not in trainable():
        hint = did_you_mean(arch, trainable(), cutoff=0.75)
        raise BadInput(f"--arch: unknown architecture {arch!r}{hint}; expected one of {', '.join(trainable())}")
    parameters = inspect.signature(_REGISTRY[arch]).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return  # takes anything: the build says what it refuses
    settings = [name for name in parameters if name not in _SHAPE_ARGS]
    unknown = sorted(set(kwargs) - set(settings))
    if unknown:
        raise BadInput(f"--arch-kwargs: {arch} takes no setting {unknown[0]!r}{did_you_mean(unknown[0], settings)}; "
                       f"its settings are {', '.join(settings) or 'none'}")


def build_model(arch: str, in_channels: int, height: int, width: int, num_classes: int, check_fits: bool = True,
                **kwargs) -> nn.Module:
    """`check_fits`: run one blank image through it (_check_fits); off for a model built on the meta device only
    for its shapes, where the first meta ReLU alone imports torch._dynamo (2.0 s of every command's start)."""
    if arch not in _REGISTRY:
        raise BadInput(f"--arch: unknown architecture {arch!r}; expected one of {', '.join(available())}")
    try:
        model = _REGISTRY[arch](in_channels=in_channels, height=height, width=width, num_classes=num_classes, **kwargs)
    except (TypeError, ValueError) as exc:  # a setting the architecture does not take, or a bad value
        raise BadInput(f"{arch} with settings {kwargs}: {exc}") from None
    if check_fits:
        _check_fits(model, arch, (in_channels, height, width))
    return model


def _check_fits(model: nn.Module, arch: str, shape: tuple[int, int, int]) -> None:
    """One forward pass on a blank image, so an input too small for the network's poolings (a
    1-pixel file makes 1x1 images) is one line here, not a RuntimeError deep in the first batch.
    In eval mode: no batch statistics are updated and no random numbers drawn, so seeded runs
    train exactly as without it."""
    import torch

    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *shape))
    except RuntimeError as exc:
        size = "x".join(map(str, shape))
        raise BadInput(f"images of {size} (channels x height x width) are too small for {arch}: "
                       f"{str(exc).splitlines()[0]}") from None
    finally:
        model.train(was_training)
