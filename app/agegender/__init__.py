"""AgeGender Live: real-time age and gender estimation, comparing a multi-task network with a single-task pair."""

__version__ = "0.1.0"

import os

# OpenCV and its FFmpeg print their own warnings ("[ WARN:0@...]", "[tcp @ 0x...]") to the terminal,
# before and between our one-line messages. Set before cv2 is first imported; set them to see them.
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
