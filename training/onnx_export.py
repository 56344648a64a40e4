"""Export a PyTorch module to ONNX and write the metadata the app reads back.

Every value is stored as a JSON string in the model's metadata_props, so the app parses it with
json.loads and never guesses a type.
"""
from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import onnx
import torch

OPSET = 17


def training_commit() -> str:
    """The commit the training code was at, with '+dirty' when the work tree had changes."""
    try:
        root = Path(__file__).resolve().parent.parent
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def export_onnx(
    module: torch.nn.Module,
    example_input: torch.Tensor,
    path: Path,
    *,
    input_name: str,
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
    metadata: Mapping[str, Any],
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = module.eval()
    # The TorchScript exporter is deprecated but needs only `onnx`; the dynamo one also needs onnxscript.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module, (example_input,), str(path),
            input_names=[input_name], output_names=list(output_names),
            dynamic_axes=dict(dynamic_axes), opset_version=OPSET, dynamo=False,
        )
    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = json.dumps(value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
