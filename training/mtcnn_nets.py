"""MTCNN's three networks (P-Net, R-Net, O-Net) in PyTorch, named to match facenet-pytorch's state dicts.

The exported graphs take float32 RGB pixels in 0..255, laid out NHWC as OpenCV delivers them; the
transpose and MTCNN's (x - 127.5) / 128 normalisation live inside the graph so the detector in app/
only resizes and casts.

Two exact rewrites make the graphs about 1.5x faster in ONNX Runtime on CPU, where PRelu and Softmax
run outside its blocked-layout convolution kernels:
- PReLU(x) = relu(x) - a * relu(-x), whose Relu and Mul stay in the fast path;
- softmax([z0, z1])[1] = sigmoid(z1 - z0), computed by a one-channel layer with the weight difference.
"""
from __future__ import annotations

import torch
from torch import nn


def _to_network_input(pixels_nhwc: torch.Tensor) -> torch.Tensor:
    return (pixels_nhwc.permute(0, 3, 1, 2) - 127.5) * 0.0078125


def prelu(x: torch.Tensor, module: nn.PReLU) -> torch.Tensor:
    slope = module.weight.view(1, -1, *([1] * (x.dim() - 2)))
    return torch.relu(x) - slope * torch.relu(-x)


def face_probability(x: torch.Tensor, classifier: nn.Module) -> torch.Tensor:
    """Softmax's face class of a two-class layer, as a sigmoid of the logit difference."""
    weight = classifier.weight[1] - classifier.weight[0]
    bias = classifier.bias[1] - classifier.bias[0]
    if isinstance(classifier, nn.Conv2d):
        logit = nn.functional.conv2d(x, weight[None], bias[None])[:, 0]
    else:
        logit = x @ weight + bias
    return torch.sigmoid(logit)


class PNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = _to_network_input(pixels)
        x = self.pool1(prelu(self.conv1(x), self.prelu1))
        x = prelu(self.conv2(x), self.prelu2)
        x = prelu(self.conv3(x), self.prelu3)
        return face_probability(x, self.conv4_1), self.conv4_2(x)


class RNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = _to_network_input(pixels)
        x = self.pool1(prelu(self.conv1(x), self.prelu1))
        x = self.pool2(prelu(self.conv2(x), self.prelu2))
        x = prelu(self.conv3(x), self.prelu3)
        # The weights were converted from Caffe, which flattens in (W, H, C) order.
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = prelu(self.dense4(x), self.prelu4)
        return face_probability(x, self.dense5_1), self.dense5_2(x)


class ONet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = _to_network_input(pixels)
        x = self.pool1(prelu(self.conv1(x), self.prelu1))
        x = self.pool2(prelu(self.conv2(x), self.prelu2))
        x = self.pool3(prelu(self.conv3(x), self.prelu3))
        x = prelu(self.conv4(x), self.prelu4)
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = prelu(self.dense5(x), self.prelu5)
        return face_probability(x, self.dense6_1), self.dense6_2(x), self.dense6_3(x)
