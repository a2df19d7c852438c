"""The single networks: the seed notebook's `baseline`, the VGG-style `bncnn` and the CPU-lean `leannet`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from core.model.registry import register


@register("baseline")
class Baseline(nn.Module):
    """The seed notebook's network: two conv+ReLU+maxpool blocks, Linear -> 500, Sigmoid, Linear."""

    def __init__(self, in_channels: int, height: int, width: int, num_classes: int, hidden: int = 500):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        # Two 2x2 pools floor-divide each side by 4: 28x28 -> 7x7 as in the notebook.
        flat = 32 * (height // 4) * (width // 4)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(flat, hidden), nn.Sigmoid(),
                                        nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


@register("bncnn")
class BNCNN(nn.Module):
    """A small VGG-style network with BatchNorm; global average pooling makes it size-agnostic."""

    def __init__(self, in_channels: int, height: int, width: int, num_classes: int,
                 width_mult: float = 1.0, dropout: float = 0.2):
        super().__init__()
        c1, c2, c3 = (max(8, int(c * width_mult)) for c in (32, 64, 128))
        self.features = nn.Sequential(
            *_conv_bn(in_channels, c1), *_conv_bn(c1, c1), nn.MaxPool2d(2),
            *_conv_bn(c1, c2), *_conv_bn(c2, c2), nn.MaxPool2d(2),
            *_conv_bn(c2, c3), nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(c3, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class WidthNorm(nn.Module):
    """Stretches or squeezes each image sideways so its ink spans `width` pixels, centred, keeping its
    height (Ciresan et al. 2012 trained committee columns on digits normalised to different widths:
    members that see different inputs make different errors). Part of the network, so prediction
    normalises exactly as training did. Ink is whatever differs from the image's darkest value (its
    background, however the input was normalised); a blank image passes through unchanged."""

    def __init__(self, width: int):
        super().__init__()
        if width < 1:
            raise ValueError(f"input_width must be at least 1 pixel, got {width}")
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, _, w = x.shape
        background = x.amin(dim=(1, 2, 3), keepdim=True)
        ink = ((x - background).sum(1) > 1e-3).any(1)  # (n, w): columns with any ink
        columns = torch.arange(w, device=x.device, dtype=x.dtype).expand(n, w)
        left = torch.where(ink, columns, torch.full_like(columns, w)).amin(1)
        right = torch.where(ink, columns, torch.full_like(columns, -1)).amax(1)
        blank = right < left
        box = torch.where(blank, torch.full_like(left, self.width), right - left + 1)
        centre = torch.where(blank, torch.full_like(left, (w - 1) / 2), (left + right) / 2)
        theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = box / self.width  # output column u reads input column centre + (u - mid) * box / width
        theta[:, 0, 2] = 2 * centre / max(1, w - 1) - 1
        theta[:, 1, 1] = 1
        grid = nn.functional.affine_grid(theta, list(x.shape), align_corners=True)
        moved = nn.functional.grid_sample(x - background, grid, align_corners=True, padding_mode="zeros")
        return moved + background


@register("leannet")
class LeanNet(nn.Module):
    """Conv-BN-ReLU stages with a 2x2 max-pool between them and a flatten + linear head.

    Built for CPU training budgets: a 5x5 first layer sees a wide field for the price of one input
    channel, pooling right after it keeps the wide layers at 14x14 and 7x7 (where they cost a quarter
    and a sixteenth of 28x28), and the flatten head keeps where a stroke is, which global pooling
    throws away. A stage is a width, or a list of widths for several convs at one resolution, so
    the same class scales from the demo to GPU runs: stages=(32, 64, (128, 128)) adds depth at 7x7.
    """

    def __init__(self, in_channels: int, height: int, width: int, num_classes: int,
                 stages: Sequence[int | Sequence[int]] = (32, 64, 128), first_kernel: int = 5,
                 dropout: float = 0.3, input_width: int | None = None):
        super().__init__()
        # input_width: the digits' ink normalised to this many pixels wide first (WidthNorm); None: as given.
        # No weights either way, so the state_dict's names are the same with and without it.
        self.prepare = WidthNorm(input_width) if input_width else nn.Identity()
        layers: list[nn.Module] = []
        cin, h, w = in_channels, height, width
        for i, stage in enumerate(stages):
            for cout in ([stage] if isinstance(stage, int) else stage):
                kernel = first_kernel if not layers else 3
                layers += [nn.Conv2d(cin, cout, kernel_size=kernel, padding=kernel // 2, bias=False),
                           nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
                cin = cout
            if i < len(stages) - 1:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin * h * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.prepare(x)))
