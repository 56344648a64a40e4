"""The two model designs behind one interface.

- MultiTaskDesign: one network with an age output and a gender output.
- SingleTaskPairDesign: an age network and a gender network.

Both take a batch of aligned crops (uint8 BGR, as agegender.vision.align makes them) and return Predictions.
Each ONNX file names its own design in its metadata; NETWORKS maps that name to the wrapper class.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from agegender.vision.buckets import BucketScheme
from agegender.errors import ModelError
from agegender.vision.model_info import ModelInfo, int8_copy
from agegender.paths import MODELS_DIR
from agegender.vision.precision import PRECISION_CHOICES, float_precision, int8_timed_faster
from agegender.vision.runtime import CPU, OPENVINO, choose_providers, open_session, read_metadata

DESIGN_FILES = {"multitask": ("multitask.onnx",), "single": ("age.onnx", "gender.onnx")}
# What each design choice runs. "compare" runs both designs on the same faces, everywhere (the window,
# `process`, the API); "both", its former name in `process` and the API, is still taken, with a warning.
DESIGNS_RUN = {"multitask": ("multitask",), "single": ("single",), "compare": ("multitask", "single")}
FORMER_DESIGN_NAMES = {"both": "compare"}


def design_choice(name: str, from_code: bool = False) -> str:
    """The design choice `name` stands for: itself, or what a former name is now called, said once: as a
    DeprecationWarning to the caller of the API (`from_code`), else as a log line to the person."""
    if name not in FORMER_DESIGN_NAMES:
        return name
    message = f"design {name!r} is now called {FORMER_DESIGN_NAMES[name]!r}"
    if from_code:
        import warnings
        warnings.warn(message, DeprecationWarning, stacklevel=3)
    else:
        logging.getLogger("agegender").warning(message)
    return FORMER_DESIGN_NAMES[name]
MISSING_MODELS_HELP = ("The trained models are made by this project's training/ package (docs/models.md): "
                       "python -m training.train and python -m training.export write them to models/.")


@dataclass(frozen=True)
class GenderRule:
    """When a gender answer is given as sure: where the confidence max(p, 1 - p) of the calibrated P(female)
    reaches the threshold of the face's age band (by the age estimate, in whole years). `bands` pairs each
    band's first age with its threshold, in rising age; a band lasts until the next one starts, and a
    threshold of None means never sure there. Below the first band gender is never given as sure: every
    model is close to chance on children. The thresholds are chosen on degraded validation faces by
    training.calibrate so that each band's sure answers are right at least 97% of the time."""

    bands: tuple[tuple[float, float | None], ...] = ((12.0, 0.9),)  # for a network exported without its own

    @classmethod
    def uniform(cls, threshold: float, min_age: float = 12.0) -> "GenderRule":
        return cls(((float(min_age), float(threshold)),))

    @property
    def min_age(self) -> float:
        return self.bands[0][0]

    def needed_confidence(self, age_years: np.ndarray) -> np.ndarray:
        """The confidence each face's gender needs to count as sure; inf where it never does."""
        starts = np.array([start for start, _ in self.bands], np.float64)
        needed = np.array([np.inf] + [np.inf if t is None else t for _, t in self.bands], np.float64)
        return needed[np.searchsorted(starts, np.rint(np.asarray(age_years, np.float64)), side="right")]

    def is_sure(self, p_female: np.ndarray, age_estimate: np.ndarray) -> np.ndarray:
        """Which answers are given as sure; `age_estimate` in years (rounded here, as "~NN y" shows it)."""
        return np.maximum(p_female, 1 - p_female) >= self.needed_confidence(age_estimate)


def expected_age(age_distribution: np.ndarray) -> np.ndarray:
    """The mean age in years of each row of a distribution over ages 0, 1, 2, ..."""
    return age_distribution @ np.arange(age_distribution.shape[1], dtype=np.float32)


@dataclass
class Predictions:
    """Per-face outputs of one design, as parallel arrays."""

    age_distribution: np.ndarray  # (N, ages), sums to 1
    p_female: np.ndarray  # (N,), calibrated
    scheme: BucketScheme
    gender_labels: tuple[str, str]
    gender_rule: GenderRule = GenderRule()

    def __len__(self) -> int:
        return len(self.p_female)

    def rows(self, index) -> "Predictions":
        """The predictions of the faces `index` selects (a slice, indices or a mask)."""
        return Predictions(self.age_distribution[index], self.p_female[index], self.scheme, self.gender_labels,
                           self.gender_rule)

    @staticmethod
    def concatenate(parts: list["Predictions"]) -> "Predictions":
        """The faces of `parts` one after the other (the settings of the first)."""
        first = parts[0]
        return Predictions(np.concatenate([p.age_distribution for p in parts]),
                           np.concatenate([p.p_female for p in parts]), first.scheme, first.gender_labels,
                           first.gender_rule)

    # Cached: drawing and the results schema read them once per face.
    @cached_property
    def expected_age(self) -> np.ndarray:
        return expected_age(self.age_distribution)

    @cached_property
    def bucket_probs(self) -> np.ndarray:
        return self.scheme.probabilities(self.age_distribution)

    @cached_property
    def age_years(self) -> np.ndarray:
        """The age estimate in whole years: what "~NN y" shows and what picks the bucket."""
        return np.rint(self.expected_age).astype(np.int64)

    @cached_property
    def bucket_index(self) -> np.ndarray:
        """The bucket that holds each face's age estimate, so the bucket and "~NN y" never disagree."""
        return self.scheme.nearest(self.age_years)

    @property
    def bucket_labels(self) -> list[str]:
        return [self.scheme.labels[i] for i in self.bucket_index]

    @cached_property
    def is_female(self) -> np.ndarray:
        return says_female(self.p_female)

    @cached_property
    def gender_confidence(self) -> np.ndarray:
        return np.maximum(self.p_female, 1 - self.p_female)

    @cached_property
    def gender_confident(self) -> np.ndarray:
        return self.gender_rule.is_sure(self.p_female, self.age_years)

    def face(self, i: int) -> dict:
        """The JSON form of face i (the `designs` entry of the results schema)."""
        probs = self.bucket_probs[i]
        return {"age": round(float(self.expected_age[i]), 2),
                "age_bucket": self.scheme.labels[int(self.bucket_index[i])],
                "age_bucket_probs": {label: round(float(p), 4) for label, p in zip(self.scheme.labels, probs)},
                "gender": self.gender_labels[int(self.is_female[i])],
                "p_female": round(float(self.p_female[i]), 4),
                "gender_confident": bool(self.gender_confident[i])}


def says_female(p_female: np.ndarray) -> np.ndarray:
    """The gender decision, the one definition of it: female where P(female) > 0.5."""
    return np.asarray(p_female) > 0.5


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def p_female(gender_network: "Network", gender_logit: np.ndarray) -> np.ndarray:
    """Calibrated P(female): the logit scaled by the temperature fitted on validation faces."""
    return sigmoid(gender_logit / gender_network.info.gender_temperature)


def gender_rule(info: ModelInfo) -> GenderRule:
    """The rule a gender network's file asks for: its thresholds per age band, or the default."""
    return GenderRule(info.gender_thresholds) if info.gender_thresholds else GenderRule()


class Network:
    """One ONNX network and its metadata; turns aligned BGR crops into its input tensor."""

    design = ""

    def __init__(self, path: Path, session, info: ModelInfo) -> None:
        self.path, self.session, self.info = path, session, info
        self._input = session.get_inputs()[0].name
        self._mean = np.asarray(info.mean, np.float32)
        self._inv_std = 1.0 / np.asarray(info.std, np.float32)
        missing = set(self.expected_outputs) - {o.name for o in session.get_outputs()}
        if missing:
            raise ModelError(f"{path} is a '{self.design}' model but has no output {', '.join(sorted(missing))}")

    expected_outputs: tuple[str, ...] = ()

    def input_tensor(self, crops_bgr: np.ndarray) -> np.ndarray:
        """The network's input for aligned BGR crops: colour order, mean/std and layout from its metadata."""
        size = self.info.input_size
        if crops_bgr.shape[1:3] != (size, size):
            raise ValueError(f"{self.path.name} takes {size}x{size} crops, got {crops_bgr.shape[1:3]}")
        pixels = crops_bgr[..., ::-1] if self.info.colour_order == "RGB" else crops_bgr
        return np.ascontiguousarray(((pixels.astype(np.float32) - self._mean) * self._inv_std).transpose(0, 3, 1, 2))

    def run(self, crops_bgr: np.ndarray, mirror: bool | None = None) -> dict[str, np.ndarray]:
        """The network's outputs for a batch of crops. With `mirror` (by default: where the file's metadata
        says its validation gained from it), each crop's logits are averaged with its horizontal mirror's,
        both in the same call."""
        x = self.input_tensor(crops_bgr)
        names = list(self.expected_outputs)
        if not len(x):  # no faces: no call, empty outputs of the right shapes
            empty = {"age_logits": np.zeros((0, self.info.age_classes), np.float32),
                     "gender_logit": np.zeros((0,), np.float32)}
            return {name: empty[name] for name in names}
        if not (self.info.test_time_mirror if mirror is None else mirror):
            return dict(zip(names, self.session.run(names, {self._input: x})))
        both = self.session.run(names, {self._input: np.concatenate([x, x[..., ::-1]])})
        return {name: (out[:len(x)] + out[len(x):]) / 2 for name, out in zip(names, both)}


class MultiTaskNetwork(Network):
    design = "multitask"
    expected_outputs = ("age_logits", "gender_logit")


class AgeNetwork(Network):
    design = "age"
    expected_outputs = ("age_logits",)


class GenderNetwork(Network):
    design = "gender"
    expected_outputs = ("gender_logit",)


NETWORKS: dict[str, type[Network]] = {cls.design: cls for cls in (MultiTaskNetwork, AgeNetwork, GenderNetwork)}


def load_network(path: Path, providers: list[str] | None = None, precision: str = "fp32") -> Network:
    """The network in `path` (an INT8 copy runs as it is; "bf16" computes a float network in BF16)."""
    path = Path(path)
    session = open_session(path, providers or choose_providers(), precision=precision)
    info = ModelInfo.from_metadata(read_metadata(session, path), path)
    if info.design not in NETWORKS:
        raise ModelError(f"{path} declares design {info.design!r}; this app knows {', '.join(NETWORKS)}")
    return NETWORKS[info.design](path, session, info)


def _expect(network: Network, cls: type[Network]) -> Network:
    if not isinstance(network, cls):
        raise ModelError(f"{network.path} holds a '{network.design}' network where a '{cls.design}' one belongs")
    return network


class MultiTaskDesign:
    name = "multitask"

    def __init__(self, path: Path, scheme: BucketScheme | None = None, providers: list[str] | None = None,
                 precision: str = "fp32") -> None:
        self.network = _expect(load_network(path, providers, precision), MultiTaskNetwork)
        self.scheme = scheme or BucketScheme.parse(self.network.info.age_buckets)
        self.gender_rule = gender_rule(self.network.info)

    @property
    def input_size(self) -> int:
        return self.network.info.input_size

    def predict(self, crops_bgr: np.ndarray) -> Predictions:
        out = self.network.run(crops_bgr)
        return Predictions(softmax(out["age_logits"]), p_female(self.network, out["gender_logit"]), self.scheme,
                           self.network.info.gender_labels, self.gender_rule)


class SingleTaskPairDesign:
    name = "single"

    def __init__(self, age_path: Path, gender_path: Path, scheme: BucketScheme | None = None,
                 providers: list[str] | None = None, precision: str = "fp32") -> None:
        self.age = _expect(load_network(age_path, providers, precision), AgeNetwork)
        self.gender = _expect(load_network(gender_path, providers, precision), GenderNetwork)
        if self.age.info.input_size != self.gender.info.input_size:
            raise ModelError(f"{age_path.name} and {gender_path.name} take different crop sizes; export them alike")
        self.scheme = scheme or BucketScheme.parse(self.age.info.age_buckets)
        self.gender_rule = gender_rule(self.gender.info)

    @property
    def input_size(self) -> int:
        return self.age.info.input_size

    def predict(self, crops_bgr: np.ndarray) -> Predictions:
        age_logits = self.age.run(crops_bgr)["age_logits"]
        gender_logit = self.gender.run(crops_bgr)["gender_logit"]
        return Predictions(softmax(age_logits), p_female(self.gender, gender_logit), self.scheme,
                           self.gender.info.gender_labels, self.gender_rule)


def choose_precision(paths: list[Path], precision: str, providers: list[str]) -> str:
    """'bf16', 'int8' or 'fp32' for one design. auto: BF16 on OpenVINO where the CPU computes it natively
    and every network of the design passed its BF16 gate (vision/precision.py); else the INT8 copies on
    the CPU (OpenVINO or ONNX Runtime) where every network of the design has one (they exist only where
    they kept the FP32 accuracy and ran faster on both runtimes); else FP32 (always on CUDA). Where both
    could run, the faster by the BF16 verdicts' timings of both on the CPU that judged them (BF16 where
    they hold none for the INT8 copies); both passed their gates."""
    have_int8 = all(int8_copy(p).is_file() for p in paths)
    if precision == "int8":
        if not have_int8:
            missing = ", ".join(int8_copy(p).name for p in paths if not int8_copy(p).is_file())
            raise ModelError(f"no INT8 copy {missing} in {paths[0].parent}: it is shipped only where it kept the "
                             "FP32 network's accuracy (python -m training.quantize). Use precision 'auto' or 'fp32'")
        return "int8"
    names = [p.name for p in paths]
    floating = float_precision(precision, providers, paths[0].parent, names)
    if floating == "bf16" and (precision == "bf16" or not (have_int8 and int8_timed_faster(paths[0].parent, names))):
        return "bf16"
    if precision == "auto" and have_int8 and providers[0] in (CPU, OPENVINO):
        return "int8"
    return "fp32"


def load_design(name: str, models_dir: Path = MODELS_DIR, scheme: BucketScheme | None = None,
                providers: list[str] | None = None, precision: str = "auto"):
    """'multitask' or 'single', from the files in models_dir, at the precision chosen (PRECISION_CHOICES);
    the design's .precision says which one runs."""
    if name not in DESIGN_FILES:
        raise ValueError(f"unknown design {name!r}; choose one of {', '.join(DESIGN_FILES)}")
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISION_CHOICES)}")
    paths = [Path(models_dir) / f for f in DESIGN_FILES[name]]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise ModelError(f"no trained model {', '.join(missing)} in {models_dir}. {MISSING_MODELS_HELP}")
    providers = providers or choose_providers()
    used = choose_precision(paths, precision, providers)
    if used == "int8":
        paths = [int8_copy(p) for p in paths]
    design = MultiTaskDesign(paths[0], scheme, providers, used) if name == "multitask" else \
        SingleTaskPairDesign(paths[0], paths[1], scheme, providers, used)
    design.precision = used
    return design
