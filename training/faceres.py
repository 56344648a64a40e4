"""The FaceRes trunk: HSE's MobileNet v1 face network, trained for identity on VGGFace2 and then for age and
gender on IMDB-WIKI, as a PyTorch module whose layers match its TF.js graph (../shared/pretrained/hse-faceres-deep).

The graph has batch norm folded into its convolutions, so every layer here is a convolution with a bias (the
depthwise layers' scale folded into their kernels), ReLU6 after each. TensorFlow's "SAME" padding pads a
stride-2 layer on an even input by one pixel at the bottom and right only; TfSamePad does the same, so the
module gives the graph's outputs (tests/test_faceres.py checks it against training.tfjs_onnx's translation).

The module takes what every network of this project takes, RGB normalised by training.recipe's MEAN and STD,
and turns it into what the graph was trained on, BGR minus the Caffe means, in its first step.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training.recipe import MEAN, STD
from training.tfjs_weights import TfjsGraph, read_graph
from training.utkface import ROOT

FACERES_DIR = ROOT.parent / "shared" / "pretrained" / "hse-faceres-deep"
FACERES_GRAPH = FACERES_DIR / "faceres-deep.json"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
FEATURES = 1024
# (output channels, stride) of the 13 depthwise-separable blocks after the first convolution (32 channels)
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


class TfSamePad(nn.Module):
    """TensorFlow's "SAME" padding for a k x k kernel at `stride`: the extra pixel goes after, not before."""

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad wants the last axis first
            total = max((-(-size // self.stride) - 1) * self.stride + self.kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)


def _conv(inp: int, out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(TfSamePad(kernel, stride), nn.Conv2d(inp, out, kernel, stride, groups=groups),
                         nn.ReLU6(inplace=True))


class FaceResTrunk(nn.Module):
    """Face crops in (any square size; 224 as trained), 1024-d globally pooled features out."""

    def __init__(self) -> None:
        super().__init__()
        # recipe-normalised RGB -> BGR minus the Caffe means: x * std + mean - caffe_mean, channels reversed
        scale = torch.tensor(STD[::-1]).view(1, 3, 1, 1)
        shift = (torch.tensor(MEAN[::-1]) - torch.tensor(CAFFE_MEAN_BGR)).view(1, 3, 1, 1)
        self.register_buffer("input_scale", scale, persistent=False)
        self.register_buffer("input_shift", shift, persistent=False)
        layers, channels = [_conv(3, 32, 3, stride=2)], 32
        for out, stride in BLOCKS:
            layers += [_conv(channels, channels, 3, stride, groups=channels), _conv(channels, out, 1)]
            channels = out
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flip(1) * self.input_scale + self.input_shift
        return self.layers(x).mean(dim=(2, 3))


def load_faceres(trunk: FaceResTrunk, graph: TfjsGraph | Path = FACERES_GRAPH) -> None:
    """Load the graph's convolution weights into `trunk`, by name, transposed to PyTorch's layout."""
    if not isinstance(graph, TfjsGraph):
        graph = read_graph(graph)
    w = graph.weights

    def put(index: int, kernel: np.ndarray, bias: np.ndarray, depthwise: bool) -> None:
        conv = trunk.layers[index][1]
        layout = (2, 3, 0, 1) if depthwise else (3, 2, 0, 1)  # (H, W, in, 1|out) -> (out, in|1, H, W)
        weight = torch.from_numpy(np.ascontiguousarray(kernel.transpose(layout)))
        if weight.shape != conv.weight.shape:
            raise ValueError(f"layer {index}: the graph has {tuple(weight.shape)}, the module {tuple(conv.weight.shape)}")
        with torch.no_grad():
            conv.weight.copy_(weight)
            conv.bias.copy_(torch.from_numpy(bias))

    put(0, w["conv1/convolution/merged_input"], w["conv1_bn/batchnorm_1/sub"], False)
    for i in range(1, len(BLOCKS) + 1):
        scale = w[f"conv_dw_{i}_bn/batchnorm_1/mul"]
        put(2 * i - 1, w[f"conv_dw_{i}/depthwise_kernel"] * scale[None, None, :, None],
            w[f"conv_dw_{i}_bn/batchnorm_1/sub"], True)
        put(2 * i, w[f"conv_pw_{i}/convolution/merged_input"], w[f"conv_pw_{i}_bn/batchnorm_1/sub"], False)


def load_faceres_heads(feats: nn.Linear, gender: nn.Linear | None, age: nn.Linear | None,
                       graph: TfjsGraph | Path = FACERES_GRAPH) -> None:
    """Start heads of the project's shape (features -> 256 -> outputs) from the graph's own: its 256-d
    `feats` layer, its gender output (P(male), so negated: the project's logit is > 0 for female), and its
    100 age bins (bin i is age i + 1; the project's class 0, age 0, starts far below them)."""
    if not isinstance(graph, TfjsGraph):
        graph = read_graph(graph)
    w = graph.weights
    with torch.no_grad():
        feats.weight.copy_(torch.from_numpy(w["feats/kernel"].T.copy()))
        feats.bias.copy_(torch.from_numpy(w["feats/bias"]))
        if gender is not None:
            gender.weight.copy_(-torch.from_numpy(w["gender_pred/kernel"].T.copy()))
            gender.bias.copy_(-torch.from_numpy(w["gender_pred/bias"]))
        if age is None:
            return
        classes = age.weight.shape[0]
        age.weight.zero_()
        age.bias.fill_(-10.0)
        bins = min(classes - 1, w["age_pred/kernel"].shape[1])
        age.weight[1:bins + 1] = torch.from_numpy(w["age_pred/kernel"].T[:bins].copy())
        age.bias[1:bins + 1] = torch.from_numpy(w["age_pred/bias"][:bins])
