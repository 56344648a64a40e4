"""An ONNX file compiled by OpenVINO for the CPU, behind the calls of ONNX Runtime's InferenceSession
that the app makes (get_inputs, get_outputs, run, get_modelmeta, get_providers), so the detector and
the designs run on either runtime unchanged (vision/runtime.py)."""
from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from agegender.errors import ModelError

_core = None
_core_lock = threading.Lock()


def openvino_core():
    """One OpenVINO Core for the process (it holds the CPU plugin and its thread pools)."""
    global _core
    with _core_lock:
        if _core is None:
            import openvino
            _core = openvino.Core()
        return _core


class OpenVinoSession:
    """Compiled for latency, in FP32 (outputs equal ONNX Runtime's to about 1e-6). Several threads may
    call one session (the API's FaceAnalyzer may be shared); they take turns on its one infer request."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        import openvino
        self.path = Path(path)
        core = openvino_core()
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            model = core.read_model(str(self.path))
            self._compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError (and others) for a bad file
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.path} is not a usable ONNX model for OpenVINO ({reason[:160]}). Restore it "
                             "from the repository, re-export it, or use backend 'onnxruntime'") from exc
        self._metadata = _onnx_metadata(model)
        self._inputs = [SimpleNamespace(name=port.get_any_name()) for port in self._compiled.inputs]
        self._outputs = [SimpleNamespace(name=port.get_any_name()) for port in self._compiled.outputs]
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()
        del openvino

    def get_inputs(self) -> list:
        return self._inputs

    def get_outputs(self) -> list:
        return self._outputs

    def get_providers(self) -> list[str]:
        from agegender.vision.runtime import OPENVINO
        return [OPENVINO]

    def get_modelmeta(self):
        return SimpleNamespace(custom_metadata_map=self._metadata)

    def run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        names = output_names or [output.name for output in self._outputs]
        with self._lock:  # one request, one call at a time; the copies outlive its reused output buffers
            results = self._request.infer(feeds)
            by_name = {port.get_any_name(): value for port, value in results.items()}
            return [np.array(by_name[name], copy=True) for name in names]


def _onnx_metadata(model) -> dict[str, str]:
    """The ONNX file's metadata_props, as OpenVINO's ONNX reader keeps them (rt_info 'framework')."""
    info = model.get_rt_info()
    if "framework" not in info:
        return {}
    return {key: value.astype(str) for key, value in dict(info["framework"]).items()}
