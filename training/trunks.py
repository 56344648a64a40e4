"""The trunks a network can be built on, each with its features, its input size and its pretrained weights.

- mobilefacenet: MobileFaceNet, 112 x 112, 128-d, pretrained for identity on MS-Celeb-1M.
- faceres: HSE's MobileNet v1, 160 x 160 here (224 as trained), 1024-d, pretrained for identity on VGGFace2 and
  then for age and gender on IMDB-WIKI; its own age and gender layers start the heads.

The trunk of the recipe (training.recipe.TRUNK) builds every network of both designs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from training import faceres
from training.networks import EMBEDDING, MobileFaceNet, MultiTaskNet, SingleTaskNet, load_pretrained
from training.utkface import ROOT

PRETRAINED = ROOT.parent / "shared" / "pretrained"


@dataclass(frozen=True)
class Trunk:
    name: str
    build: Callable[[], nn.Module]
    features: int
    input_size: int
    pretrained: Path  # the weights fine-tuning starts from
    load: Callable[[nn.Module, Path], None]  # (the network, the weights): trunk, and heads where it has them


def _load_mobilefacenet(network: nn.Module, path: Path) -> None:
    load_pretrained(network.trunk, path)


def _load_faceres(network: nn.Module, path: Path) -> None:
    graph = faceres.read_graph(path)
    faceres.load_faceres(network.trunk, graph)
    heads = [network.gender_head, network.age_head] if isinstance(network, MultiTaskNet) else [network.head]
    for one in heads:
        age = one[-1].out_features > 1
        faceres.load_faceres_heads(one[0], gender=None if age else one[-1], age=one[-1] if age else None, graph=graph)


TRUNKS = {
    "mobilefacenet": Trunk("mobilefacenet", MobileFaceNet, EMBEDDING, 112,
                           PRETRAINED / "mobilefacenet" / "mobilefacenet.pt", _load_mobilefacenet),
    "faceres": Trunk("faceres", faceres.FaceResTrunk, faceres.FEATURES, 160, faceres.FACERES_GRAPH, _load_faceres),
}


def build_network(design: str, trunk: str) -> nn.Module:
    """The network of `design` ("multitask", "age" or "gender") on a fresh trunk of that name."""
    spec = TRUNKS[trunk]
    network = MultiTaskNet(spec.build(), spec.features) if design == "multitask" else SingleTaskNet(
        design, spec.build(), spec.features)
    network.trunk_name, network.input_size = trunk, spec.input_size  # what the export writes into the file
    return network
