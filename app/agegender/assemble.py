"""Builds a ready Pipeline from settings: the detector, the design(s), the tracker. One place for
the window, `agegender process` and the soak run."""
from __future__ import annotations

import logging
from pathlib import Path

from agegender.vision import buckets
from agegender.config import Settings
from agegender.vision.designs import load_design
from agegender.vision.detect import MtcnnDetector
from agegender.errors import ModelError
from agegender.paths import MODELS_DIR, mtcnn_dir
from agegender.vision.pipeline import Pipeline
from agegender.vision.runtime import choose_providers
from agegender.vision.track import Tracker

log = logging.getLogger("agegender")


def build_pipeline(settings: Settings, models_dir: Path | None = None, designs=("multitask", "single"),
                   all_required: bool = False, track: bool = True, live: bool = False):
    """Returns (pipeline, bucket scheme, provider and precision in use, e.g. "CPUExecutionProvider, int8
    classifiers"). Loads each design in `designs` whose files
    exist; with `all_required`, a missing or damaged one is an error, otherwise only having none is.
    `live`: the window's pipeline (and the soak's, which stands in for it): the full sweep beside the
    frame path and the per-frame classification budget (vision/pipeline.py)."""
    scheme = buckets.scheme(settings.buckets)  # settings checked themselves when they were made
    providers = choose_providers(settings.provider, settings.backend)
    loaded, problems = {}, []
    for name in designs:
        try:
            loaded[name] = load_design(name, models_dir or MODELS_DIR, scheme, providers, settings.precision)
        except ModelError as exc:
            if all_required:
                raise
            problems.append(str(exc))
    if not loaded:
        raise ModelError(problems[0])
    for problem in problems:
        log.warning("%s (that design is unavailable)", problem)
    detector = MtcnnDetector(settings.detector_settings(), mtcnn_dir(models_dir), providers=providers,
                             precision=settings.precision)
    tracker = Tracker() if track else None  # without one, every frame is detected in full, on its own
    pipeline = Pipeline(detector, loaded, settings.max_faces, tracker=tracker, detect_every=settings.detect_every,
                        smoothing=settings.smoothing, live=live, classify_budget=settings.classify_budget if live else 0)
    precisions = sorted({design.precision for design in loaded.values()})
    return pipeline, scheme, f"{detector.provider}, {detector.precision} detector, {'/'.join(precisions)} classifiers"
