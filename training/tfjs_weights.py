"""Reading a TensorFlow.js graph model (model.json + its weight files) without TensorFlow.

The weights of a TF.js graph are stored one after another, in the order of `weightsManifest`, in
little-endian files; this module gives them by name as numpy arrays, with the graph's nodes beside them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_DTYPES = {"float32": np.float32, "int32": np.int32}


@dataclass(frozen=True)
class TfjsGraph:
    nodes: list[dict]  # modelTopology.node, in the file's (topological) order
    weights: dict[str, np.ndarray]
    outputs: tuple[str, ...]  # the graph's signature outputs, without the ":0"

    def node(self, name: str) -> dict:
        return next(node for node in self.nodes if node["name"] == name)


def read_graph(model_json: Path) -> TfjsGraph:
    model_json = Path(model_json)
    if not model_json.is_file():
        raise SystemExit(f"no TF.js graph at {model_json}: see ../shared/pretrained/hse-faceres-deep/README.md")
    spec = json.loads(model_json.read_text())
    weights: dict[str, np.ndarray] = {}
    for group in spec["weightsManifest"]:
        data = b"".join((model_json.parent / name).read_bytes() for name in group["paths"])
        offset = 0
        for entry in group["weights"]:
            dtype = np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<")
            count = int(np.prod(entry["shape"])) if entry["shape"] else 1
            weights[entry["name"]] = np.frombuffer(data, dtype, count, offset).reshape(entry["shape"]).astype(
                dtype.newbyteorder("="))
            offset += count * dtype.itemsize
        if offset != len(data):
            raise SystemExit(f"{model_json}: the manifest describes {offset} bytes, the weight files hold {len(data)}")
    outputs = tuple(name.split(":")[0] for name in spec.get("signature", {}).get("outputs", {}))
    return TfjsGraph(spec["modelTopology"]["node"], weights, outputs)
