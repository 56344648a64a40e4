"""Settings for the window and the kiosk, from a TOML file, validated key by key."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from agegender.errors import AgeGenderError


class ConfigError(AgeGenderError):
    pass


KIOSK_LABEL_SCALE = 2.5  # labels readable from two metres on a 1080p screen


@dataclass
class Settings:
    source: str = "0"
    design: str = "multitask"  # multitask, single or compare
    kiosk: bool = False
    min_face: int = 20
    thresholds: list = field(default_factory=lambda: [0.6, 0.7, 0.7])
    buckets: str = "default"
    privacy: bool = False
    landmarks: bool = False
    smoothing: bool = True  # per-track moving average of the labels
    detect_every: int = 5  # full detection every N frames; between, tracked faces are refined
    provider: str = "auto"
    max_faces: int = 64
    max_image_megapixels: float = 100.0  # larger images are refused from their header, before decoding
    label_scale: float = 1.0  # on-screen label size; the kiosk multiplies it by KIOSK_LABEL_SCALE
    kiosk_exit_keys: str = "Ctrl+Shift+Q"
    attract_after_s: float = 3.0  # seconds without a face before the kiosk's attract screen
    reconnect_interval_s: float = 2.0
    watchdog_s: float = 10.0  # no frame processed for this long while the source runs: restart the capture
    compare_window_s: float = 5.0

    CHOICES = {"design": ("multitask", "single", "compare"), "provider": ("auto", "cpu", "cuda")}


def load_settings(path: Path | None, overrides: dict | None = None) -> Settings:
    """Defaults, then the file, then command-line overrides. Unknown keys and wrong types are errors
    that name the key."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    settings = Settings()
    known = {f.name: f for f in fields(Settings)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown setting {key!r} in {path or 'the command line'}; known: {', '.join(known)}")
        expected = type(getattr(settings, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected is str and isinstance(value, int) and key == "source":
            value = str(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(f"setting {key!r} must be {expected.__name__}, got {value!r}")
        if key in Settings.CHOICES and value not in Settings.CHOICES[key]:
            raise ConfigError(f"setting {key!r} must be one of {', '.join(Settings.CHOICES[key])}, got {value!r}")
        setattr(settings, key, value)
    check_settings(settings, str(path) if path else "the command line")
    return settings


def check_settings(settings: Settings, where: str) -> None:
    """The ranges that types alone do not enforce."""
    def must(condition: bool, key: str, rule: str) -> None:
        if not condition:
            raise ConfigError(f"setting {key!r} ({where}) must be {rule}, got {getattr(settings, key)!r}")
    thresholds = settings.thresholds
    must(len(thresholds) == 3 and all(isinstance(t, (int, float)) and 0 <= t <= 1 for t in thresholds),
         "thresholds", "three numbers in [0, 1]")
    must(settings.detect_every >= 1, "detect_every", "at least 1")
    must(settings.min_face >= 12, "min_face", "at least 12")
    must(settings.max_faces >= 1, "max_faces", "at least 1")
    must(settings.max_image_megapixels > 0, "max_image_megapixels", "more than 0")
