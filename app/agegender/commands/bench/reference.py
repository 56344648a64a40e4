"""facenet-pytorch's MTCNN, the reference `agegender bench` and the detector's parity test measure against.

facenet-pytorch imports torchvision for one function, batched_nms, and torchvision has no CPU-only
build that installs beside the CPU build of torch (it would pull a CUDA torch). `install_torchvision_stand_in`
registers a module that provides exactly that function, written with torchvision's documented semantics
(greedy IoU suppression, per index), before facenet-pytorch is imported. Only the bench imports this module.
"""
from __future__ import annotations

import importlib.util
import sys
import types

import cv2
import numpy as np

INSTALL_HINT = "pip install torch==2.13.0 requests && pip install --no-deps facenet-pytorch"


def reference_available() -> bool:
    return importlib.util.find_spec("torch") is not None and importlib.util.find_spec("facenet_pytorch") is not None


def install_torchvision_stand_in() -> None:
    try:
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass
    import torch

    def batched_nms(boxes, scores, idxs, iou_threshold):
        # Compiled code, like torchvision's own, so the reference is not slowed by a Python loop.
        if boxes.numel() == 0:
            return torch.empty((0,), dtype=torch.int64)
        shifted = (boxes + (idxs.to(boxes) * (boxes.max() + 1))[:, None]).double().numpy()
        xywh = np.column_stack([shifted[:, :2], shifted[:, 2:] - shifted[:, :2]])
        keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.float().numpy().tolist(), 0.0, float(iou_threshold))
        return torch.as_tensor(np.asarray(keep, np.int64).reshape(-1))

    package = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    boxes_module = types.ModuleType("torchvision.ops.boxes")
    boxes_module.batched_nms = batched_nms
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")
    package.ops, ops.boxes, package.transforms, transforms.functional = ops, boxes_module, transforms, functional
    sys.modules.update({"torchvision": package, "torchvision.ops": ops, "torchvision.ops.boxes": boxes_module,
                        "torchvision.transforms": transforms, "torchvision.transforms.functional": functional})


def reference_detector(min_face: int = 20):
    """facenet-pytorch's MTCNN on CPU with its default thresholds and scale factor."""
    install_torchvision_stand_in()
    from facenet_pytorch import MTCNN
    return MTCNN(keep_all=True, min_face_size=min_face, device="cpu")
