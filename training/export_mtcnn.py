"""Export facenet-pytorch's MTCNN weights to models/mtcnn/{pnet,rnet,onet}.onnx.

    pip install --no-deps facenet-pytorch    # only its three weight files are used
    python -m training.export_mtcnn

facenet-pytorch is installed without its dependencies because it pins an old torch and torchvision;
this script reads the state dicts from the installed package's data folder and never imports it.
"""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import torch

from training.mtcnn_nets import ONet, PNet, RNet
from training.onnx_export import export_onnx

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "models" / "mtcnn"


def facenet_weights_dir() -> Path:
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("facenet-pytorch is not installed: pip install --no-deps facenet-pytorch")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def load_networks(weights_dir: Path) -> dict[str, torch.nn.Module]:
    networks = {"pnet": PNet(), "rnet": RNet(), "onet": ONet()}
    for name, net in networks.items():
        state = torch.load(weights_dir / f"{name}.pt", map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
        net.eval()
    return networks


def export_all(out_dir: Path = DEFAULT_OUT) -> list[Path]:
    networks = load_networks(facenet_weights_dir())
    common = {"source": "facenet-pytorch 2.6.0 (MIT), weights ported from the MTCNN authors' Caffe models",
              "input_layout": "NHWC float32 RGB 0..255"}
    paths = [
        export_onnx(networks["pnet"], torch.rand(1, 48, 64, 3) * 255, out_dir / "pnet.onnx",
                    input_name="pixels", output_names=["face_prob", "box_offsets"],
                    dynamic_axes={"pixels": {1: "height", 2: "width"},
                                  "face_prob": {1: "map_height", 2: "map_width"},
                                  "box_offsets": {2: "map_height", 3: "map_width"}},
                    metadata={**common, "stage": "pnet"}),
        export_onnx(networks["rnet"], torch.rand(2, 24, 24, 3) * 255, out_dir / "rnet.onnx",
                    input_name="pixels", output_names=["face_prob", "box_offsets"],
                    dynamic_axes={"pixels": {0: "batch"}, "face_prob": {0: "batch"},
                                  "box_offsets": {0: "batch"}},
                    metadata={**common, "stage": "rnet"}),
        export_onnx(networks["onet"], torch.rand(2, 48, 48, 3) * 255, out_dir / "onet.onnx",
                    input_name="pixels", output_names=["face_prob", "box_offsets", "landmarks"],
                    dynamic_axes={"pixels": {0: "batch"}, "face_prob": {0: "batch"},
                                  "box_offsets": {0: "batch"}, "landmarks": {0: "batch"}},
                    metadata={**common, "stage": "onet"}),
    ]
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    for path in export_all(args.out):
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
