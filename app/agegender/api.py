"""The Python API: faces in an image, or followed through a stream of frames, with age and gender.

    import agegender
    analyzer = agegender.FaceAnalyzer()                 # multi-task design, CPU or CUDA as available
    for face in analyzer.analyze("group.jpg"):          # or a BGR numpy array
        print(face.box, face.age_bucket, face.gender, face.gender_confident)

The command line, `agegender process` and the window are built on the same pipeline.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from agegender.frames import Frame, FrameResult
from agegender.config import Settings
from agegender.sources.capture import FALLBACK_FPS, read_image
from agegender.assemble import build_pipeline
from agegender.vision.designs import DESIGNS_RUN, design_choice
from agegender.vision.detect import DEFAULT_MIN_FACE, DEFAULT_PRESET
from agegender.vision.pipeline import DEFAULT_MAX_FACES, Pipeline
from agegender.vision.sweep import TRACKING_MODE_EVERY
from agegender.vision.track import Tracker

DESIGN_CHOICES = DESIGNS_RUN


@dataclass(frozen=True)
class DesignAnswer:
    """One design's answer for one face."""

    age: float  # years, the estimate (unrounded)
    age_years: int  # the estimate in whole years: what "~NN y" shows and what chose the bucket
    age_bucket: str
    age_bucket_probs: dict[str, float]
    gender: str  # "male" or "female": the model's lean, even when it is not sure
    p_female: float  # calibrated
    gender_confident: bool  # false: show the gender as unknown

    @classmethod
    def of(cls, predictions, i: int) -> "DesignAnswer":
        return cls(age=float(predictions.expected_age[i]), age_years=int(predictions.age_years[i]),
                   age_bucket=predictions.scheme.labels[int(predictions.bucket_index[i])],
                   age_bucket_probs={label: float(p) for label, p in
                                     zip(predictions.scheme.labels, predictions.bucket_probs[i])},
                   gender=predictions.gender_labels[int(predictions.is_female[i])],
                   p_female=float(predictions.p_female[i]), gender_confident=bool(predictions.gender_confident[i]))


@dataclass(frozen=True)
class Face:
    """A face: where it is, and the answer of the analyzer's design (the multi-task one for "compare");
    `designs` holds every design's answer. Boxes and landmarks are unrounded; to_dict() gives the
    results files' face schema (rounded as they are)."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
    score: float  # detector confidence
    landmarks: tuple[tuple[float, float], ...]  # eyes, nose, mouth corners
    age: float
    age_years: int
    age_bucket: str
    age_bucket_probs: dict[str, float]
    gender: str
    p_female: float
    gender_confident: bool
    designs: dict[str, DesignAnswer]
    track: int | None = None  # the face's id across frames, from FaceAnalyzer.track
    _result: FrameResult | None = field(default=None, repr=False, compare=False)
    _index: int = field(default=0, repr=False, compare=False)

    def to_dict(self) -> dict:
        """This face as a line of the results files has it (`agegender process --results`)."""
        return self._result.face_dict(self._index)


def faces_of(result: FrameResult, primary: str) -> list[Face]:
    """The Face objects of one pipeline result, left to right (then top to bottom); `primary` names
    the design whose answer is on the face."""
    out = []
    for i in range(len(result.detections)):
        designs = {name: DesignAnswer.of(p, i) for name, p in result.predictions.items()}
        main = designs[primary]
        track = int(result.track_ids[i]) if result.track_ids is not None else None
        out.append(Face(box=tuple(float(v) for v in result.detections.boxes[i]),
                        score=float(result.detections.scores[i]),
                        landmarks=tuple((float(x), float(y)) for x, y in result.detections.landmarks[i]),
                        age=main.age, age_years=main.age_years, age_bucket=main.age_bucket,
                        age_bucket_probs=main.age_bucket_probs, gender=main.gender, p_female=main.p_female,
                        gender_confident=main.gender_confident, designs=designs, track=track,
                        _result=result, _index=i))
    return sorted(out, key=lambda face: (face.box[0], face.box[1]))


class FaceAnalyzer:
    """Detects faces (MTCNN), aligns them and estimates age and gender with one or both designs.

    design: "multitask" (one network), "single" (an age network and a gender network) or "compare" (both,
    on the same faces; "both", its former name, is taken with a DeprecationWarning).
    provider: "auto" (CUDA where onnxruntime-gpu and a GPU are present, else CPU), "cpu" or "cuda".
    backend: "auto" (OpenVINO on the CPU where it is installed, ONNX Runtime for CUDA and otherwise),
    "openvino" or "onnxruntime"; `.provider` says which runs, and at which precision.
    min_face: the smallest face searched for, in pixels. buckets: "default", "decades" or a
    scheme such as "0-12,13-19,20-39,40-64,65+". models: another models folder (MTCNN included).
    precision: "auto" (each network at the fastest precision that passed its accuracy gate on this CPU:
    docs/performance.md), "fp32", "bf16" or "int8".
    detector: "fast" (the default) or "reference", facenet-pytorch's MTCNN settings exactly (slower; finds
    the odd face "fast" misses).
    A wrong design raises ValueError; a wrong value of the other settings, ConfigError (the settings file's
    error, which names the setting and its allowed values).
    """

    def __init__(self, design: str = "multitask", provider: str = "auto", min_face: int = DEFAULT_MIN_FACE,
                 buckets: str = "default", max_faces: int = DEFAULT_MAX_FACES,
                 models: str | Path | None = None, precision: str = "auto", detector: str = DEFAULT_PRESET,
                 backend: str = "auto") -> None:
        design = design_choice(design)
        if design not in DESIGN_CHOICES:
            raise ValueError(f"design must be one of {', '.join(DESIGN_CHOICES)}, not {design!r}")
        self.design = design
        self.settings = Settings(min_face=min_face, buckets=buckets, provider=provider, max_faces=max_faces,
                                 precision=precision, detector=detector, backend=backend, detect_every=1,
                                 smoothing=False)
        self._models = Path(models) if models is not None else None
        self._pipeline, self.scheme, self.provider = build_pipeline(
            self.settings, self._models, designs=DESIGN_CHOICES[design], all_required=True, track=False)

    @property
    def _primary(self) -> str:
        return DESIGN_CHOICES[self.design][0]

    def analyze(self, image, color: str = "bgr") -> list[Face]:
        """Faces in one image, left to right: an image file's path, a uint8 array (colour as `color`
        says, "bgr" as OpenCV reads it or "rgb" as PIL and most other libraries give it; grayscale and
        alpha are converted), or a PIL image. Stateless: nothing carries over from one call to the next."""
        if isinstance(image, (str, Path)):
            name = str(image)
            if not name or Path(name).is_dir():
                raise ValueError(f"an image must be an image file's path or a BGR array, not the folder {name!r}"
                                 if name else "an image must be an image file's path or a BGR array, not ''")
            image = read_image(Path(image), self.settings.max_image_megapixels)
        else:
            name = "array"
            image = as_bgr(image, color)
        result = self._pipeline.process(Frame(image, 0, 0.0, source=name))
        return faces_of(result, self._primary)

    def close(self) -> None:
        """Stops the analyzer's threads and lets its networks go; it cannot be used afterwards."""
        self._pipeline.close()

    def __enter__(self) -> "FaceAnalyzer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def track(self, frames: Iterable[np.ndarray], detect_every: int = TRACKING_MODE_EVERY, smoothing: bool = True,
              fps: float = FALLBACK_FPS) -> Iterator[list[Face]]:
        """Faces in each frame of a video-like sequence of BGR arrays, followed across frames (Face.track)
        with labels smoothed per track. The full detector runs on every `detect_every`-th frame; between,
        the tracked faces are refined. Each call starts with no tracks, and so does a frame whose size
        differs from the one before."""
        settings = replace(self.settings, detect_every=detect_every, smoothing=smoothing)  # checks the values
        loaded = self._pipeline  # the same networks: only the tracking state is new
        pipeline = Pipeline(loaded.detector, loaded.designs, loaded.max_faces, tracker=Tracker(),
                            detect_every=settings.detect_every, smoothing=settings.smoothing)
        segment, size = 0, None
        for index, image in enumerate(frames):
            image = _checked_bgr(image)
            if size is not None and image.shape != size:
                segment += 1  # another picture size: nothing to follow from the frames before
            size = image.shape
            frame = Frame(image, index, index / fps, segment=segment)
            yield faces_of(pipeline.process(frame), self._primary)

    def __repr__(self) -> str:
        return f"FaceAnalyzer(design={self.design!r}, provider={self.provider!r}, buckets={str(self.scheme)!r})"


def as_bgr(image, color: str = "bgr") -> np.ndarray:
    """A uint8 BGR array from a PIL image or a uint8 array: gray (H, W) or (H, W, 1), colour (H, W, 3)
    in `color` order, or with alpha (H, W, 4). ValueError for anything else."""
    if color not in ("bgr", "rgb"):
        raise ValueError(f"color must be 'bgr' or 'rgb', not {color!r}")
    if not isinstance(image, np.ndarray) and hasattr(image, "convert") and hasattr(image, "size"):  # PIL
        image, color = np.asarray(image.convert("RGB")), "rgb"
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.size:
        if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
            return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
        if image.ndim == 3 and image.shape[2] == 4:
            return cv2.cvtColor(image, cv2.COLOR_RGBA2BGR if color == "rgb" else cv2.COLOR_BGRA2BGR)
        if image.ndim == 3 and image.shape[2] == 3 and color == "rgb":
            return np.ascontiguousarray(image[..., ::-1])
    return _checked_bgr(image)


def _checked_bgr(image: np.ndarray) -> np.ndarray:
    if (not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3
            or image.size == 0):
        raise ValueError("an image must be a non-empty uint8 BGR array of shape (height, width, 3), as cv2.imread gives, "
                         f"not {type(image).__name__} {getattr(image, 'shape', '')} {getattr(image, 'dtype', '')}")
    return image
