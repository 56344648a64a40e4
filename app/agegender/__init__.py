"""AgeGender Live: real-time age and gender estimation, comparing a multi-task network with a single-task pair.

    import agegender
    faces = agegender.FaceAnalyzer(design="multitask").analyze("photo.jpg")

Exports: FaceAnalyzer (analyze, track, close; a context manager), Face and DesignAnswer (its answers;
Face.to_dict() is the results files' face schema), FrameFaces (one frame's faces from track, with its
time), draw (an annotated copy of an image, as `agegender process` draws it), AgeGenderError (every
error a user can act on).
They are loaded on first use, so that `import agegender` (and the command line's start-up, which
handles Ctrl-C from its first moment) stays quick; type checkers see them below.
"""

__version__ = "0.2.0"
__all__ = ["FaceAnalyzer", "Face", "DesignAnswer", "FrameFaces", "draw", "AgeGenderError", "__version__"]

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agegender.api import DesignAnswer, Face, FaceAnalyzer, FrameFaces, draw
    from agegender.errors import AgeGenderError

# OpenCV and its FFmpeg print their own warnings ("[ WARN:0@...]", "[tcp @ 0x...]") to the terminal,
# before and between our one-line messages. Set before cv2 is first imported; set them to see them.
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


def __getattr__(name: str):
    if name in ("FaceAnalyzer", "Face", "DesignAnswer", "FrameFaces", "draw"):
        from agegender import api
        return getattr(api, name)
    if name == "AgeGenderError":
        from agegender.errors import AgeGenderError
        return AgeGenderError
    raise AttributeError(f"module 'agegender' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
