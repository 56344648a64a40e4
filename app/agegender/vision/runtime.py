"""Inference sessions: the runtime and execution-provider choice, loading with clear errors, and the
model's own metadata.

Two runtimes read the same .onnx files. OpenVINO, Intel's runtime for CPUs, runs this project's networks
2-3x faster than ONNX Runtime's CPU provider (docs/performance.md); ONNX Runtime runs them on CUDA, and
is the fallback wherever OpenVINO is not installed. The choice is made once, as a list of "providers"
(ONNX Runtime's execution providers, or OPENVINO alone); everything above this module is blind to it:
an OpenVINO session answers the few calls of ONNX Runtime's InferenceSession that the app makes."""
from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

import onnxruntime as ort

from agegender.errors import ModelError

log = logging.getLogger("agegender")

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
OPENVINO = "OpenVINO CPU"
PROVIDER_CHOICES = ("auto", "cpu", "cuda")
BACKEND_CHOICES = ("auto", "openvino", "onnxruntime")
OPENVINO_INSTALL = 'pip install "openvino>=2025.1"'


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def choose_providers(requested: str = "auto", backend: str = "auto") -> list[str]:
    """The runtime to run every network on: [OPENVINO], or ONNX Runtime's providers to ask for.

    auto: CUDA where onnxruntime-gpu and a GPU are there (ONNX Runtime), else OpenVINO where it is
    installed, else ONNX Runtime's CPU provider. Asking for CUDA where it is not available falls back to
    the CPU with a warning rather than stopping; asking for OpenVINO where it is not installed is an error
    that says how to install it."""
    if requested not in PROVIDER_CHOICES:
        raise ValueError(f"unknown execution provider {requested!r}; choose one of {', '.join(PROVIDER_CHOICES)}")
    if backend not in BACKEND_CHOICES:
        raise ValueError(f"unknown inference backend {backend!r}; choose one of {', '.join(BACKEND_CHOICES)}")
    if backend == "openvino":
        if requested == "cuda":
            raise ModelError("backend 'openvino' runs on the CPU; for CUDA use backend 'onnxruntime' or 'auto'")
        if not openvino_available():
            raise ModelError(f"backend 'openvino' was asked for, but OpenVINO is not installed: {OPENVINO_INSTALL} "
                             "(or use backend 'auto' or 'onnxruntime')")
        return [OPENVINO]
    if requested != "cpu" and CUDA in ort.get_available_providers():
        return [CUDA, CPU]
    if requested == "cuda":
        log.warning("CUDA was requested but this ONNX Runtime has no CUDA provider (install onnxruntime-gpu "
                    "in place of onnxruntime, see docs/dependencies.md); running on CPU")
    if backend == "auto" and openvino_available():
        return [OPENVINO]
    return [CPU]


def is_cpu(providers: list[str]) -> bool:
    return providers[0] in (CPU, OPENVINO)


_threads_per_session = 0  # 0: each runtime's choice, one per core


def limit_session_threads(threads: int) -> None:
    """Every session this process opens from now on, without threads of its own, takes at most `threads`:
    for worker processes that share the cores (the archive's --workers)."""
    global _threads_per_session
    _threads_per_session = max(0, int(threads))


def open_session(path: Path, providers: list[str], layout_optimizations: bool = True,
                 threads: int = 0, precision: str = "fp32", static_shapes: bool = False) -> ort.InferenceSession:
    """layout_optimizations=False skips ONNX Runtime's blocked-layout (NCHWc) rewrite, which costs more
    than it saves on P-Net's few channels and frame-sized maps (measured: 35 against 46 ms).
    threads: the session's intra-op threads (0: ONNX Runtime's choice, one per core).
    precision: "bf16" computes in BF16 on OpenVINO (vision/precision.py decides where); else as the file is.
    static_shapes: on OpenVINO, a network compiled for each input shape it is given (P-Net's pyramid levels)."""
    path = Path(path)
    threads = threads or _threads_per_session
    if not path.is_file():
        raise ModelError(f"model file not found: {path}. See docs/models.md for how to get the models.")
    if providers[0] == OPENVINO:
        from agegender.vision.openvino_session import OpenVinoSession
        return OpenVinoSession(path, threads, bf16=precision == "bf16", static_shapes=static_shapes)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if not layout_optimizations:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    # Sessions share two cores with each other and with Python: idle threads must sleep, not spin.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # ORT raises several unrelated types for a bad file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path} is not a usable ONNX model ({reason[:160]}). "
                         "Restore it from the repository or re-export it (see docs/models.md).") from exc
    if providers[0] == CUDA and session.get_providers()[0] != CUDA:
        log.warning("CUDA provider failed to initialise for %s; running on CPU", path.name)
    return session


def active_provider(session: ort.InferenceSession) -> str:
    """The provider that actually runs, which is not always the one asked for."""
    return session.get_providers()[0]


def read_metadata(session: ort.InferenceSession, path: Path | str = "") -> dict[str, Any]:
    raw = session.get_modelmeta().custom_metadata_map
    try:
        return {key: json.loads(value) for key, value in raw.items()}
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: its metadata is not JSON ({exc}); it was not exported by this project") from exc
