"""The Python API: faces in an image, or followed through a stream of frames, with age and gender.

    import agegender
    analyzer = agegender.FaceAnalyzer()                 # multi-task design, CPU or CUDA as available
    for face in analyzer.analyze("group.jpg"):          # or a BGR numpy array
        print(face.box, face.age_bucket, face.gender, face.gender_confident)

The command line, `agegender process` and the window are built on the same pipeline.
"""
from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Union, overload

import cv2
import numpy as np

from agegender.frames import Frame, FrameResult
from agegender.config import Settings
from agegender.outputs.draw import annotate
from agegender.sources.capture import (FALLBACK_FPS, ImageSource, VideoFileSource, eight_bit, open_source,
                                       read_image)
from agegender.assemble import build_pipeline
from agegender.vision.designs import DESIGNS_RUN, Predictions, design_choice
from agegender.vision.detect import DEFAULT_MIN_FACE, DEFAULT_PRESET, Detections
from agegender.vision.pipeline import DEFAULT_MAX_FACES, Pipeline
from agegender.vision.sweep import TRACKING_MODE_EVERY
from agegender.vision.track import Tracker

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage  # PIL is optional: analyze() takes its images where it is there

DESIGN_CHOICES = DESIGNS_RUN
ImageLike = Union[str, Path, np.ndarray, "PILImage"]  # what analyze() and draw() take


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
    _primary: str = field(default="multitask", repr=False, compare=False)

    def to_dict(self) -> dict:
        """This face as a line of the results files has it (`agegender process --results`), with the
        analyzer's design's answer (age, age_bucket, gender, p_female, ...) at the top level as well."""
        face = self._result.face_dict(self._index)
        return {**face, **face["designs"][self._primary]}


def _known_design(design: str, argument: str) -> str:
    if design not in DESIGN_CHOICES:
        raise ValueError(f"{argument} must be one of {', '.join(DESIGN_CHOICES)}, not {design!r}")
    return design


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
                        _result=result, _index=i, _primary=primary))
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
        self.design = _known_design(design_choice(design, from_code=True), "design")
        self.settings = Settings(min_face=min_face, buckets=buckets, provider=provider, max_faces=max_faces,
                                 precision=precision, detector=detector, backend=backend, detect_every=1,
                                 smoothing=False)
        self._models = Path(models) if models is not None else None
        self._pipeline: Pipeline | None
        self._pipeline, self.scheme, self.provider = build_pipeline(
            self.settings, self._models, designs=DESIGN_CHOICES[self.design], all_required=True, track=False)

    @property
    def _primary(self) -> str:
        return DESIGN_CHOICES[self.design][0]

    @overload
    def analyze(self, image: ImageLike, color: str = "bgr") -> list[Face]: ...

    @overload
    def analyze(self, image: list[ImageLike] | tuple[ImageLike, ...], color: str = "bgr") -> list[list[Face]]: ...

    def analyze(self, image, color: str = "bgr"):
        """Faces in one image, left to right: an image file's path, a uint8 or uint16 array (colour as
        `color` says, "bgr" as OpenCV reads it or "rgb" as PIL and most other libraries give it; grayscale,
        alpha and 16 bits are converted), or a PIL image. Given a list (or tuple) of images, a list of their faces,
        each image's left to right: the faces of all of them are classified together, one call per network,
        which is quicker than one analyze() per image. Stateless: nothing carries over from one call to
        the next."""
        pipeline = self._open_pipeline()
        if isinstance(image, (list, tuple)):
            frames = [self._still(one, color, index) for index, one in enumerate(image)]
            return [faces_of(result, self._primary) for result in pipeline.process_stills(frames)] if frames else []
        return faces_of(pipeline.process(self._still(image, color)), self._primary)

    def _still(self, image, color: str, index: int = 0) -> Frame:
        if isinstance(image, (str, Path)):
            name = str(image)
            if not name or Path(name).is_dir():
                raise ValueError(f"an image must be an image file's path or a BGR array, not the folder {name!r}"
                                 if name else "an image must be an image file's path or a BGR array, not ''")
            return Frame(read_image(Path(image), self.settings.max_image_megapixels), index, 0.0, source=name)
        return Frame(as_bgr(image, color), index, 0.0, source="array")

    def _open_pipeline(self) -> Pipeline:
        if self._pipeline is None:
            raise RuntimeError("this FaceAnalyzer is closed (close() or the end of its with block): make a new one")
        return self._pipeline

    def close(self) -> None:
        """Stops the analyzer's threads and lets its networks go; it cannot be used afterwards (RuntimeError)."""
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None

    def __enter__(self) -> "FaceAnalyzer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def track(self, source, detect_every: int = TRACKING_MODE_EVERY, smoothing: bool = True,
              fps: float = FALLBACK_FPS) -> Iterator[FrameFaces]:
        """The faces of each frame of a video, followed across frames (Face.track) with labels smoothed
        per track; each frame's faces come as a FrameFaces list with the frame's `index` and `time`.

        source: a video file's path, a camera index (0 is the default camera; it runs until you stop
        iterating), a stream URL, or any iterable of BGR arrays (their times are index / `fps`). The full
        detector runs on every `detect_every`-th frame; between, the tracked faces are refined. Each call
        starts with no tracks, and so does a frame whose picture size differs from the one before. A
        video that ends early (truncated or damaged) gives a RuntimeWarning after its last good frame.
        Wrong arguments raise at the call; a path is opened when the first frame is asked for."""
        loaded = self._open_pipeline()
        settings = replace(self.settings, detect_every=detect_every, smoothing=smoothing)  # checks the values
        if isinstance(source, bool) or not isinstance(source, (int, Path, Iterable)):
            raise TypeError("track() takes a video file's path, a camera index, a stream URL or an iterable of BGR "
                            f"arrays, not {type(source).__name__}")
        if not isinstance(fps, numbers.Real):
            raise TypeError(f"fps must be a number, the frames' rate per second, not {type(fps).__name__}")
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, the frames' rate per second, not {fps}")
        # the same networks: only the tracking state is new
        pipeline = Pipeline(loaded.detector, loaded.designs, loaded.max_faces, tracker=Tracker(),
                            detect_every=settings.detect_every, smoothing=settings.smoothing)
        return (FrameFaces(faces_of(pipeline.process(frame), self._primary), frame.index, frame.time)
                for frame in _video_frames(source, fps))

    def __repr__(self) -> str:
        return f"FaceAnalyzer(design={self.design!r}, provider={self.provider!r}, buckets={str(self.scheme)!r})"


class FrameFaces(list):
    """The faces of one frame from FaceAnalyzer.track, left to right, with the frame's `frame_index` (from
    0) and `time` (seconds from the video's start, or since the camera or stream opened). A list still:
    `index()` is list's own."""

    def __init__(self, faces: Iterable[Face] = (), frame_index: int = 0, time: float = 0.0) -> None:
        super().__init__(faces)
        self.frame_index, self.time = frame_index, time

    def __repr__(self) -> str:
        return f"FrameFaces(frame_index={self.frame_index}, time={self.time:.3f}, faces={list.__repr__(self)})"


def _video_frames(source, fps: float) -> Iterator[Frame]:
    """Frames of a video path, a camera index or a stream URL (read by the app's own sources), or of an
    iterable of BGR arrays."""
    if isinstance(source, (str, Path, int)) and not isinstance(source, bool):
        opened = open_source(str(source))
        if isinstance(opened, ImageSource):
            opened.close()
            raise ValueError(f"track() follows faces through a video, a camera or a stream, and {source} is an "
                             "image or a folder of images: use analyze() for those")
        try:
            if isinstance(opened, VideoFileSource):
                opened.follow_size_changes()
            while (frame := opened.read()) is not None:
                yield frame
            if opened.error:
                warnings.warn(opened.error, RuntimeWarning, stacklevel=3)
        finally:
            opened.close()
        return
    segment, size = 0, None
    for index, image in enumerate(source):
        image = _checked_bgr(image)
        if size is not None and image.shape != size:
            segment += 1  # another picture size: nothing to follow from the frames before
        size = image.shape
        yield Frame(image, index, index / fps, segment=segment)


def draw(image, faces: Iterable[Face], color: str = "bgr", *, designs: str | None = None, landmarks: bool = False):
    """A copy of `image` with `faces` (from analyze or track, of this image) drawn as `agegender process
    --out` draws them: a box and a label per face. `image` is what analyze takes; the copy comes back
    as it came (a PIL image as a PIL image, an array in the same colour order; a path gives a BGR array).
    designs: "multitask", "single" or "compare"; by default every design the faces hold."""
    faces = _faces_to_draw(faces)
    held = list(faces[0].designs) if faces else []
    shown = held
    if designs is not None:
        shown = list(DESIGNS_RUN[_known_design(design_choice(designs, from_code=True), "designs")])
        if faces and not set(shown) <= set(held):
            raise ValueError(f"designs={designs!r}: these faces hold the answers of {' and '.join(held)} only; leave "
                             f"designs out, or analyze with FaceAnalyzer(design={designs!r})")
    if isinstance(image, (str, Path)):
        bgr = read_image(Path(image))
    else:
        bgr = as_bgr(image, color)
    annotated = annotate(bgr, _result_of(faces), shown, landmarks=landmarks) if faces else bgr.copy()
    if isinstance(image, (str, Path, np.ndarray)):
        return np.ascontiguousarray(annotated[..., ::-1]) if color == "rgb" else annotated
    from PIL import Image  # the image came as a PIL image
    return Image.fromarray(np.ascontiguousarray(annotated[..., ::-1]))


def _faces_to_draw(faces) -> list[Face]:
    """`faces` as a list, checked: faces analyze or track gave, all of one analyzer's designs and buckets."""
    if not isinstance(faces, Iterable):
        raise TypeError(f"draw() takes a list of faces, as analyze or track gives them, not {type(faces).__name__}"
                        + (" (for one face, [face])" if isinstance(faces, Face) else ""))
    faces = list(faces)
    for face in faces:
        if not isinstance(face, Face):
            raise TypeError(f"draw() takes the faces FaceAnalyzer.analyze or track gave, not {type(face).__name__}")
        if face._result is None:
            raise ValueError("draw() takes the faces FaceAnalyzer.analyze or track gave, not ones made otherwise")
    mixed = [what for what, kinds in (("designs", {tuple(face.designs) for face in faces}),
                                      ("age buckets", {tuple(face.age_bucket_probs) for face in faces}))
             if len(kinds) > 1]
    if mixed:
        raise ValueError(f"draw() takes the faces of one analyzer, and these differ in their {' and '.join(mixed)}: "
                         "draw each analyzer's faces in turn, draw(draw(image, faces_a), faces_b)")
    return faces


def _result_of(faces: list[Face]) -> FrameResult:
    """One FrameResult holding `faces`, whichever results they came from."""
    first = faces[0]._result
    detections = Detections(np.array([f.box for f in faces], np.float32).reshape(-1, 4),
                            np.array([f.score for f in faces], np.float32),
                            np.array([f.landmarks for f in faces], np.float32).reshape(-1, 5, 2))
    predictions = {name: Predictions.concatenate([f._result.predictions[name].rows([f._index]) for f in faces])
                   for name in first.predictions}
    return FrameResult(first.frame_index, first.time, detections, predictions)


def as_bgr(image, color: str = "bgr") -> np.ndarray:
    """A uint8 BGR array from a PIL image or a uint8 or uint16 array: gray (H, W) or (H, W, 1), colour
    (H, W, 3) in `color` order, or with alpha (H, W, 4). 16 bits are made 8 as for an image file, and so
    are PIL's 32-bit gray modes ("I", "F"), whose values are taken as 16-bit ones. ValueError for anything else."""
    if color not in ("bgr", "rgb"):
        raise ValueError(f"color must be 'bgr' or 'rgb', not {color!r}")
    if not isinstance(image, np.ndarray) and hasattr(image, "convert") and hasattr(image, "size"):  # PIL
        image, color = _pil_array(image), "rgb"
    if isinstance(image, np.ndarray) and image.dtype == np.uint16:
        image = eight_bit(image)
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.size:
        if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
            return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
        if image.ndim == 3 and image.shape[2] == 4:
            return cv2.cvtColor(image, cv2.COLOR_RGBA2BGR if color == "rgb" else cv2.COLOR_BGRA2BGR)
        if image.ndim == 3 and image.shape[2] == 3 and color == "rgb":
            return np.ascontiguousarray(image[..., ::-1])
    return _checked_bgr(image)


def _pil_array(image) -> np.ndarray:
    """A PIL image's pixels: 8-bit RGB, or 16-bit gray for the modes of more than 8 bits ("I;16", "I", "F"),
    which convert("RGB") would clip to white."""
    if image.mode != "F" and not image.mode.startswith("I"):
        return np.asarray(image.convert("RGB"))
    values = np.asarray(image)
    if values.size and not (values.min() >= 0 and values.max() <= 65535):  # NaN fails too
        raise ValueError(f"a PIL image of mode {image.mode} must hold 16-bit values, 0 to 65535, as Pillow reads "
                         f"16-bit files, and this one holds {values.min()} to {values.max()}: scale it to that range, "
                         "or convert it to 8 bits ('L' or 'RGB')")
    return values.astype(np.uint16)


def _checked_bgr(image: np.ndarray) -> np.ndarray:
    if (not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3
            or image.size == 0):
        raise ValueError("an image must be a non-empty uint8 BGR array of shape (height, width, 3), as cv2.imread gives, "
                         f"not {type(image).__name__} {getattr(image, 'shape', '')} {getattr(image, 'dtype', '')}")
    return image
