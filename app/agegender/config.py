"""Settings for the window, the kiosk, `agegender process` and the API: one object that checks itself
whenever it is made, from a TOML file, the command line or code. The defaults of the detector, the
pipeline and the image reader are theirs, read here, not repeated."""
from __future__ import annotations

import logging
import math
import tomllib
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from agegender.errors import AgeGenderError
from agegender.sources.capture import DEFAULT_MAX_IMAGE_MEGAPIXELS
from agegender.vision import buckets
from agegender.vision.designs import PRECISION_CHOICES
from agegender.vision.detect import DEFAULT_MIN_FACE, DEFAULT_PRESET, DEFAULT_THRESHOLDS, PRESETS, DetectorSettings
from agegender.vision.pipeline import DEFAULT_MAX_FACES
from agegender.vision.runtime import BACKEND_CHOICES, PROVIDER_CHOICES


log = logging.getLogger("agegender")


class ConfigError(AgeGenderError):
    pass


KIOSK_LABEL_SCALE = 2.5  # labels readable from two metres on a 1080p screen
DEFAULT_KIOSK_EXIT_KEYS = "Ctrl+Shift+Q"  # (Qt is imported to check any other chord)
LABEL_SCALE_RANGE = (0.25, 8.0)  # beyond it labels are unreadable or cover the picture


def is_key_chord(text: str) -> bool:
    """True for a single key chord that Qt reads back as written ('Ctrl+Shift+Q'). Anything else
    ('Strg+Q', 'Ctrl+Nonsense+Q', '') would become an empty chord: a kiosk nobody can leave."""
    from PySide6.QtGui import QKeySequence  # only here: `process` and the API need no Qt otherwise
    sequence = QKeySequence.fromString(text, QKeySequence.SequenceFormat.PortableText)
    return (bool(text) and sequence.count() == 1 and not sequence.isEmpty()
            and sequence.toString(QKeySequence.SequenceFormat.PortableText) == text)


@dataclass
class Settings:
    """Checked when made: a wrong type, a value out of range or an unknown choice raises ConfigError
    naming the key. Code that changes a field afterwards checks the new value itself."""

    source: str = "0"
    design: str = "multitask"  # multitask, single or compare
    kiosk: bool = False
    detector: str = DEFAULT_PRESET  # fast, or reference: facenet-pytorch's settings exactly (vision/detect.py)
    min_face: int = DEFAULT_MIN_FACE
    thresholds: list = field(default_factory=lambda: list(DEFAULT_THRESHOLDS))
    buckets: str = "default"
    privacy: bool = False
    landmarks: bool = False
    smoothing: bool = True  # per-track moving average of the labels
    # full detection every N frames, tracked faces refined between; 0: auto, from the measured detection
    # time and the frame rate (the live view; vision/sweep.py SweepPace)
    detect_every: int = 0
    classify_budget: int = 4  # with tracking: crops classified per frame, new faces first; 0: every face every frame
    provider: str = "auto"
    backend: str = "auto"  # auto (OpenVINO on CPU where installed, ONNX Runtime for CUDA), openvino, onnxruntime
    precision: str = "auto"  # classifiers: auto (INT8 on CPU where shipped), int8 or fp32
    max_faces: int = DEFAULT_MAX_FACES
    max_image_megapixels: float = DEFAULT_MAX_IMAGE_MEGAPIXELS  # larger images are refused from their header
    label_scale: float = 1.0  # on-screen label size; the kiosk multiplies it by KIOSK_LABEL_SCALE
    kiosk_exit_keys: str = DEFAULT_KIOSK_EXIT_KEYS
    attract_after_s: float = 3.0  # seconds without a face before the kiosk's attract screen
    reconnect_interval_s: float = 2.0
    watchdog_s: float = 10.0  # no frame processed for this long while the source runs: restart the capture
    compare_window_s: float = 5.0

    CHOICES = {"design": ("multitask", "single", "compare"), "provider": PROVIDER_CHOICES, "backend": BACKEND_CHOICES,
               "precision": PRECISION_CHOICES, "detector": tuple(PRESETS)}

    def __post_init__(self) -> None:
        self._check_types()
        self._check_values()

    def detector_settings(self) -> DetectorSettings:
        return DetectorSettings.preset(self.detector, self.min_face, self.thresholds)

    def _check_types(self) -> None:
        for spec in fields(self):
            key, value = spec.name, getattr(self, spec.name)
            expected = type(spec.default if spec.default is not MISSING else spec.default_factory())
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if key == "source" and isinstance(value, int) and not isinstance(value, bool):
                value = str(value)  # a camera index written as a number
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(f"setting {key!r} must be {expected.__name__}, got {value!r}")
            setattr(self, key, value)

    def _check_values(self) -> None:
        def must(condition: bool, key: str, rule: str) -> None:
            if not condition:
                raise ConfigError(f"setting {key!r} must be {rule}, got {getattr(self, key)!r}")
        for key, choices in self.CHOICES.items():
            must(getattr(self, key) in choices, key, f"one of {', '.join(choices)}")
        must(len(self.thresholds) == 3 and all(isinstance(t, (int, float)) and not isinstance(t, bool)
                                               for t in self.thresholds), "thresholds", "three numbers in [0, 1]")
        try:  # the detector's own rules: min_face and the thresholds
            self.detector_settings()
        except ValueError as exc:
            raise ConfigError(f"setting {exc}") from None
        try:
            buckets.scheme(self.buckets)
        except ValueError as exc:
            raise ConfigError(f"setting 'buckets': {exc}") from None
        must(self.detect_every >= 0, "detect_every", "0 (auto) or more")
        must(self.max_faces >= 1, "max_faces", "at least 1")
        must(self.classify_budget >= 0, "classify_budget", "0 (no budget) or more")
        must(self.max_image_megapixels > 0, "max_image_megapixels", "more than 0")
        for key in ("attract_after_s", "reconnect_interval_s", "watchdog_s", "compare_window_s"):
            must(getattr(self, key) > 0, key, "more than 0 seconds")
        must(math.isfinite(self.max_image_megapixels), "max_image_megapixels", "a finite number")
        must(math.isfinite(self.label_scale) and LABEL_SCALE_RANGE[0] <= self.label_scale <= LABEL_SCALE_RANGE[1],
             "label_scale", f"a number from {LABEL_SCALE_RANGE[0]} to {LABEL_SCALE_RANGE[1]}")
        must(self.kiosk_exit_keys == DEFAULT_KIOSK_EXIT_KEYS or is_key_chord(self.kiosk_exit_keys), "kiosk_exit_keys",
             "one key chord as Qt writes it, such as 'Ctrl+Shift+Q' (English names, modifiers first)")


MAX_CONFIG_BYTES = 1 << 20  # a settings file is a few hundred bytes; this keeps /dev/zero out


def read_config_file(path: Path) -> dict:
    """The TOML table of a settings file. Only a regular file of at most MAX_CONFIG_BYTES is read (a
    folder, a FIFO or a device is refused before it can hang or fill memory); every failure is one
    ConfigError naming the file."""
    path = Path(path)
    try:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist" if not path.exists() else
                              f"config file {path} is not a regular file (a folder, a device or a pipe); "
                              "give a .toml file")
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}; check its permissions") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path} is larger than {MAX_CONFIG_BYTES >> 20} MB; a settings file is a few "
                          "lines")
    try:
        return tomllib.loads(data.decode("utf-8-sig"))  # a byte order mark, as Windows editors save it, is skipped
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"config file {path} is not valid TOML: nested too deeply") from None


def load_settings(path: Path | None, overrides: dict | None = None, used: frozenset[str] | None = None) -> Settings:
    """Defaults, then the file, then command-line overrides (None: not given). `used` names the keys the
    caller acts on; the file's other keys are listed once as ignored (a window's keys given to `process`)."""
    values: dict = read_config_file(path) if path is not None else {}
    known = [f.name for f in fields(Settings)]
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown setting {key!r} in {path}; known: {', '.join(known)}")
    if used is not None:  # the others are neither used nor judged here (a window's kiosk keys, say)
        ignored = sorted(key for key in values if key not in used)
        if ignored:
            log.warning("config file %s: %s %s not used here", path, ", ".join(ignored),
                        "is" if len(ignored) == 1 else "are")
        values = {key: value for key, value in values.items() if key in used}
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Settings(**values)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (in {path or 'the command line'})") from None
