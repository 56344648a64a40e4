"""A 48-megapixel photo of 384 faces (the group photo tiled 8x8) is processed in under 2 GB: P-Net takes
large pyramid levels in bands, R-Net and O-Net take the candidates in bounded calls (docs/performance.md)."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.conftest import ROOT

PEAK_RSS_BOUND_BYTES = 2e9


def test_a_48_megapixel_photo_is_processed_in_under_2_gb(group_photo, tmp_path):
    pytest.importorskip("openvino", reason="the bound is for the default CPU runtime, OpenVINO")
    photo = tmp_path / "crowd-48mp.jpg"
    cv2.imwrite(str(photo), np.tile(cv2.imread(str(group_photo)), (8, 8, 1)), [cv2.IMWRITE_JPEG_QUALITY, 90])
    results = tmp_path / "faces.jsonl"
    measured = ("import resource, sys; from agegender.commands.cli import main; "
                f"status = main(['process', {str(photo)!r}, '--results', {str(results)!r}, '--backend', 'openvino']); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(status)")
    run = subprocess.run([sys.executable, "-c", measured], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-800:]
    peak_bytes = int(run.stdout.split()[-1]) * 1024  # Linux reports kilobytes
    record = json.loads(results.read_text())
    assert len(record["faces"]) + record["faces_dropped"] >= 370  # its faces found (64 classified: max_faces)
    assert peak_bytes < PEAK_RSS_BOUND_BYTES, f"peak RSS {peak_bytes / 1e9:.2f} GB"
