"""An ONNX file compiled by OpenVINO for the CPU, behind the calls of ONNX Runtime's InferenceSession
that the app makes (get_inputs, get_outputs, run, get_modelmeta, get_providers), so the detector and
the designs run on either runtime unchanged (vision/runtime.py)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from agegender.errors import ModelError

_core = None
_core_lock = threading.RLock()


def openvino_core():
    """One OpenVINO Core for the process (it holds the CPU plugin and its thread pools)."""
    global _core
    with _core_lock:
        if _core is None:
            import openvino
            _core = openvino.Core()
        return _core


# The CPU plugin keeps what it prepared for each input shape a dynamic-shape network has run, up to 5,000
# shapes by default. The live view's region searches run P-Net, R-Net and O-Net on ever new shapes, and a
# kiosk's memory grew by about 100 MB a minute for its first minutes (756 -> 874 MB from 30 s to 95 s).
# With 20 shapes it grew 9 MB in that time, at the same speed (720p, full detection 84 ms, a region
# search 17 ms, four looks again 47 ms; 0 shapes made the looks again 25% slower).
RUNTIME_CACHE_SHAPES = 20


class OpenVinoSession:
    """Compiled for latency, in FP32 (outputs equal ONNX Runtime's to about 1e-6) or, asked, BF16. Several
    threads may call one session (the API's FaceAnalyzer may be shared); they take turns on its requests.

    static_shapes: run_static() runs a network compiled for the input's shape (compiled when the shape
    first comes, kept for the MAX_SHAPES shapes used last) instead of the one with dynamic shapes. For
    P-Net, called once per pyramid level, this costs about 0.3 s once per frame size and saves about a
    quarter of its time on every frame. The caller chooses by what it runs (video frames: static; photos,
    whose sizes may never come again: dynamic), never by what came before: the two compute in slightly
    different orders, and an answer must not depend on the inputs processed before it."""

    MAX_SHAPES = 48  # a few frame sizes' pyramids

    def __init__(self, path: Path, threads: int = 0, bf16: bool = False, static_shapes: bool = False) -> None:
        self.path = Path(path)
        core = openvino_core()
        # FP32 unless asked: OpenVINO's own default on a CPU with AMX is BF16, which must pass a gate first
        self._config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
                        "ENABLE_CPU_PINNING": False, "CPU_RUNTIME_CACHE_CAPACITY": str(RUNTIME_CACHE_SHAPES)}
        if threads:
            self._config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            self._model = core.read_model(str(self.path))
            compiled = core.compile_model(self._model, "CPU", self._config)
        except Exception as exc:  # OpenVINO raises RuntimeError (and others) for a bad file
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.path} is not a usable ONNX model for OpenVINO ({reason[:160]}). Restore it "
                             "from the repository, re-export it, or use backend 'onnxruntime'") from exc
        self._metadata = _onnx_metadata(self._model)
        self._inputs = [SimpleNamespace(name=port.get_any_name()) for port in compiled.inputs]
        self._outputs = [SimpleNamespace(name=port.get_any_name()) for port in compiled.outputs]
        self._dynamic_request = compiled.create_infer_request()
        self._static_shapes = static_shapes
        self._by_shape: OrderedDict[tuple, object] = OrderedDict()  # input shapes -> infer request
        self._lock = threading.Lock()

    def get_inputs(self) -> list:
        return self._inputs

    def get_outputs(self) -> list:
        return self._outputs

    def get_providers(self) -> list[str]:
        from agegender.vision.runtime import OPENVINO
        return [OPENVINO]

    def get_modelmeta(self):
        return SimpleNamespace(custom_metadata_map=self._metadata)

    def _static_request(self, feeds: dict[str, np.ndarray]):
        shapes = tuple((name, value.shape) for name, value in sorted(feeds.items()))
        request = self._by_shape.get(shapes)
        if request is None:
            with _core_lock:  # compiles one at a time: the Core is shared by every session of the process
                model = self._model.clone()
                model.reshape({name: list(shape) for name, shape in shapes})
                request = openvino_core().compile_model(model, "CPU", self._config).create_infer_request()
            if len(self._by_shape) >= self.MAX_SHAPES:
                self._by_shape.popitem(last=False)
        else:
            self._by_shape.move_to_end(shapes)
        self._by_shape[shapes] = request
        return request

    def run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self._run(output_names, feeds, static=False)

    def run_static(self, output_names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """run(), on the network compiled for these shapes where the session was opened with static_shapes."""
        return self._run(output_names, feeds, static=self._static_shapes)

    def _run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray], static: bool) -> list[np.ndarray]:
        names = output_names or [output.name for output in self._outputs]
        with self._lock:  # one call at a time (infer() returns copies of its outputs)
            request = self._static_request(feeds) if static else self._dynamic_request
            results = request.infer(feeds)
            by_name = {port.get_any_name(): value for port, value in results.items()}
            return [by_name[name] for name in names]


def _onnx_metadata(model) -> dict[str, str]:
    """The ONNX file's metadata_props, as OpenVINO's ONNX reader keeps them (rt_info 'framework')."""
    info = model.get_rt_info()
    if "framework" not in info:
        return {}
    return {key: value.astype(str) for key, value in dict(info["framework"]).items()}
