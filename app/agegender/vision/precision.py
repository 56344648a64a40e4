"""Which precision each network runs at: FP32 always works; BF16 only on OpenVINO, on a CPU that runs it
natively, and (for `auto`) only for networks that passed their accuracy gate; INT8 only where a gated
INT8 copy ships (designs.py), and for `auto` before BF16 where the verdicts timed it faster.

The BF16 verdicts are measured by `python -m training.bf16` and shipped beside the models as
bf16.json: per network file, whether it passed and the figures it was judged by, with the file's
SHA-256, so a retrained network never inherits its predecessor's verdict.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path

from agegender.vision.model_info import int8_copy
from agegender.vision.runtime import OPENVINO

log = logging.getLogger("agegender")

PRECISION_CHOICES = ("auto", "fp32", "bf16", "int8")
BF16_VERDICTS = "bf16.json"


@functools.cache
def bf16_native() -> bool:
    """True where OpenVINO says this CPU computes in BF16 natively (AMX, or AVX-512 BF16); elsewhere
    BF16 would be emulated, slower than FP32."""
    from agegender.vision.openvino_session import openvino_core
    return "BF16" in openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def _sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256_of(path, stat.st_mtime_ns, stat.st_size)


@functools.cache
def _sha256_of(path: Path, mtime_ns: int, size: int) -> str:  # (read again once the file changes)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _verdicts(models_dir: Path) -> dict:
    try:
        return json.loads((Path(models_dir) / BF16_VERDICTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def bf16_passed(models_dir: Path, names: list[str]) -> bool:
    """Every named network (paths relative to the models folder) passed its BF16 gate, as it is now."""
    verdicts = _verdicts(models_dir)
    for name in names:
        verdict = verdicts.get(name, {})
        path = Path(models_dir) / name
        if not verdict.get("passed") or not path.is_file() or verdict.get("model_sha256") != _sha256(path):
            return False
    return True


def int8_timed_faster(models_dir: Path, names: list[str]) -> bool:
    """True where the BF16 verdicts timed each named network's INT8 copy beside its BF16 self (on OpenVINO,
    in the same process) and the copies, as they are now, took less time together: "auto" then runs the
    INT8 copies, which passed a gate of their own. Verdicts without timings of these copies leave BF16 first."""
    verdicts = _verdicts(models_dir)
    timings = []
    for name in names:
        verdict, copy = verdicts.get(name, {}), int8_copy(Path(models_dir) / name)
        if not copy.is_file() or verdict.get("int8_sha256") != _sha256(copy):  # not the copy that was timed
            return False
        timings.append(verdict.get("ms_for_8", {}))
    if not all("int8" in ms and "bf16" in ms for ms in timings):
        return False
    return sum(ms["int8"] for ms in timings) < sum(ms["bf16"] for ms in timings)


def float_precision(requested: str, providers: list[str], models_dir: Path, names: list[str]) -> str:
    """'bf16' or 'fp32' for networks run in floating point. `requested` is the setting (auto, bf16, or
    another, which means FP32 here); an explicit bf16 that cannot be had falls back to FP32 with a line."""
    on_native_bf16 = providers[0] == OPENVINO and bf16_native()
    if requested == "bf16":
        if on_native_bf16:
            return "bf16"
        _say_once("precision 'bf16' needs the OpenVINO backend on a CPU that computes in BF16 natively (AMX or "
                  "AVX-512 BF16); running FP32")
        return "fp32"
    if requested == "auto" and on_native_bf16 and bf16_passed(models_dir, names):
        return "bf16"
    return "fp32"


@functools.cache
def _say_once(message: str) -> None:
    log.warning(message)
