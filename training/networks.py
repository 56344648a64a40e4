"""The networks: a MobileFaceNet trunk and the age/gender heads of both designs, around any trunk of
training.trunks (MobileFaceNet here, FaceRes in training.faceres).

MobileFaceNet's module names and shapes match the pretrained state dict in
../shared/pretrained/mobilefacenet/mobilefacenet.pt, which loads with strict=True.

Outputs of every exported network: `age_logits` (N, 101; softmax gives the distribution over
0..100+ years) and/or `gender_logit` (N,; sigmoid gives P(female)). The app applies the softmax and
sigmoid, so the same graph serves training losses and inference.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

NUM_AGES = 101  # 0..99 and a last class for 100 and over
EMBEDDING = 128


class ConvBNReLU(nn.Sequential):
    def __init__(self, inp: int, out: int, kernel_size: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(nn.Conv2d(inp, out, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(out), nn.ReLU6(inplace=True))


class DepthwiseSeparableConv(nn.Module):
    def __init__(self, inp: int, out: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(inp, inp, 3, padding=1, groups=inp, bias=False)
        self.pointwise = nn.Conv2d(inp, out, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(inp)
        self.bn2 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.depthwise(x)))
        return self.relu(self.bn2(self.pointwise(x)))


class GDConv(nn.Module):
    """Global depthwise convolution: a learned, per-channel weighting of the last 7 x 7 map."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, kernel_size, groups=channels, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.depthwise(x))


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, out: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = inp * expand_ratio
        self.use_residual = stride == 1 and inp == out
        self.conv = nn.Sequential(ConvBNReLU(inp, hidden, kernel_size=1),
                                  ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
                                  nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileFaceNet(nn.Module):
    """Aligned face crops (training/crops.py CROP_SIZE, 112 x 112) RGB in, a 128-d embedding out."""

    SETTING = ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1))  # t, c, n, s

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = ConvBNReLU(3, 64, stride=2)
        self.dw_conv = DepthwiseSeparableConv(64, 64)
        blocks, channels = [], 64
        for expand, out, repeats, stride in self.SETTING:
            for i in range(repeats):
                blocks.append(InvertedResidual(channels, out, stride if i == 0 else 1, expand))
                channels = out
        self.features = nn.Sequential(*blocks)
        self.conv2 = ConvBNReLU(channels, 512, kernel_size=1)
        self.gdconv = GDConv(512, 7)
        self.conv3 = nn.Conv2d(512, EMBEDDING, 1)
        self.bn = nn.BatchNorm2d(EMBEDDING)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.features(self.dw_conv(self.conv1(x))))
        return self.bn(self.conv3(self.gdconv(x))).flatten(1)


def load_pretrained(trunk: MobileFaceNet, path: Path) -> None:
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    trunk.load_state_dict(state, strict=True)


def head(outputs: int, inputs: int = EMBEDDING) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, 256), nn.ReLU(inplace=True), nn.Dropout(0.2), nn.Linear(256, outputs))


class MultiTaskNet(nn.Module):
    """One trunk, an age head and a gender head; `trunk` gives `features`-d vectors (default MobileFaceNet)."""

    def __init__(self, trunk: nn.Module | None = None, features: int = EMBEDDING) -> None:
        super().__init__()
        self.trunk = trunk if trunk is not None else MobileFaceNet()
        self.gender_head = head(1, features)
        self.age_head = head(NUM_AGES, features)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(x)
        gender_logit = self.gender_head(features).squeeze(1)
        return self.age_head(features), gender_logit


class SingleTaskNet(nn.Module):
    """One complete trunk and one head: task 'age' (age_logits) or 'gender' (gender_logit)."""

    def __init__(self, task: str, trunk: nn.Module | None = None, features: int = EMBEDDING) -> None:
        super().__init__()
        if task not in ("age", "gender"):
            raise ValueError(f"task must be 'age' or 'gender', not {task!r}")
        self.task = task
        self.trunk = trunk if trunk is not None else MobileFaceNet()
        self.head = head(NUM_AGES if task == "age" else 1, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.trunk(x))
        return out if self.task == "age" else out.squeeze(1)
