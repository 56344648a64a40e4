"""BF16 verdicts: which networks may compute in BF16 on OpenVINO, measured on this CPU and written to
models/bf16.json, which the app reads (agegender/vision/precision.py) for precision "auto".

    python -m training.bf16 [--models models] [--media ../shared/media]

Each network runs in FP32 and in BF16 on OpenVINO, and BF16 passes where it keeps:
- each network of the detector (P-Net, R-Net, O-Net), taken into BF16 one by one on top of those that
  passed: the whole detector's recall >= 0.98 against facenet-pytorch's MTCNN (or, where it is not
  installed, against the FP32 detector) and no lower than the FP32 detector's (BF16 may not cost a face),
  and landmarks within 3 px on average over the faces and for every face (the parity the "reference"
  preset keeps with facenet-pytorch, tests/test_detect_parity.py), on frames of the crowd video at 720p and 1080p and the photos of the media folder;
- each classifier: on the validation faces of every source (never the test split), gender accuracy
  within 0.3 points and MAE within 0.1 years of FP32, its sure answers as often right and nearly as
  many (training.quantize's gate), and a batch of 8 crops faster. Its INT8 copy, where one ships, is
  timed beside it: precision "auto" runs whichever of the two was faster.
A verdict records the network file's SHA-256: a retrained network needs a new one.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from agegender.commands.bench.detection import LANDMARK_GATE_PX, _facenet, gate as detector_gate, landmark_distances
from agegender.commands.bench.frames import read_frames
from agegender.commands.bench.reference import reference_available, reference_detector
from agegender.vision.designs import expected_age, int8_copy, load_network, softmax
from agegender.vision.detect import MtcnnDetector
from agegender.vision.precision import BF16_VERDICTS, bf16_native
from agegender.vision.runtime import OPENVINO
from training.calibrate import validation_faces
from training.evaluate import fastest_ms
from training.quantize import NETWORK_FILES, answers, gate as classifier_gate, scores_by_source, sha256
from training.utkface import ROOT

DEFAULT_MEDIA = ROOT.parent / "shared" / "media"


def detector_images(media: Path) -> list[np.ndarray]:
    """RGB images: every 15th frame of the crowd video at 720p and at 1080p, and the photos."""
    video = media / "crowd-1080p.mp4"
    frames = [frame for height in (720, 1080) for frame in read_frames(video, height, every=15, limit=7)]
    photos = [cv2.imread(str(path)) for path in sorted(media.glob("*.jpg"))]
    return [cv2.cvtColor(image, cv2.COLOR_BGR2RGB) for image in frames + photos if image is not None]


def judge_detector(models: Path, media: Path) -> dict:
    """A verdict per MTCNN network. Each is tried in BF16 on top of those already taken (O-Net, then R-Net,
    then P-Net: the later stages see fewer, larger candidates), and kept where the detector as a whole
    still passes its gate and is faster."""
    images = detector_images(media)
    mtcnn = models / "mtcnn"
    detectors = {p: MtcnnDetector(model_dir=mtcnn, providers=[OPENVINO], precision=p) for p in ("fp32", "bf16")}
    if reference_available():
        reference_name, reference = "facenet-pytorch MTCNN", [_facenet(reference_detector())(i) for i in images]
    else:
        reference_name, reference = "the FP32 detector", [detectors["fp32"].detect_rgb(i) for i in images]
    candidate = MtcnnDetector(model_dir=mtcnn, providers=[OPENVINO], precision="fp32")
    before = fastest_ms(candidate.detect_rgb, images[3], repeats=10)
    fp32_recall = detector_gate([candidate.detect_rgb(image) for image in images], reference)["recall"]
    verdicts = {}
    for stage in ("onet", "rnet", "pnet"):
        kept = getattr(candidate, f"_{stage}")
        setattr(candidate, f"_{stage}", getattr(detectors["bf16"], f"_{stage}"))
        found = [candidate.detect_rgb(image) for image in images]
        checked = detector_gate(found, reference)
        checked["landmark_px_max"] = round(float(landmark_distances(found, reference).max(initial=0.0)), 2)
        ms = fastest_ms(candidate.detect_rgb, images[3], repeats=10)
        kept_parity = checked["recall"] >= fp32_recall and checked["landmark_px_max"] <= LANDMARK_GATE_PX
        reasons = [] if checked["passed"] and kept_parity else [
            f"recall {checked['recall']:.3f} (FP32: {fp32_recall:.3f}), landmarks {checked['landmark_px_mean']:.2f} px "
            f"on average and {checked['landmark_px_max']:.2f} px at worst with it in BF16"]
        if ms >= before:
            reasons.append(f"not faster: {ms:.1f} against {before:.1f} ms for a 720p frame")
        verdicts[f"mtcnn/{stage}.onnx"] = {"passed": not reasons, "reasons": reasons, "against": reference_name,
                                           "images": len(images), "gate": checked, "ms_for_720p_frame": ms}
        print(f"mtcnn/{stage}.onnx: {'passes' if not reasons else 'fails: ' + '; '.join(reasons)} "
              f"({before:.1f} -> {ms:.1f} ms for a 720p frame, against {reference_name})", flush=True)
        if reasons:
            setattr(candidate, f"_{stage}", kept)
        else:
            before = ms
    return verdicts


def judge_classifiers(models: Path) -> dict:
    crops, ages, genders, sources = validation_faces("val")
    age_fp32 = load_network(models / "age.onnx", [OPENVINO])
    partner_age = expected_age(softmax(answers(age_fp32, crops)["age_logits"]))  # the gender network's rule
    verdicts = {}
    for name in NETWORK_FILES:
        networks = {precision: load_network(models / name, [OPENVINO], precision) for precision in ("fp32", "bf16")}
        partner = partner_age if name == "gender.onnx" else None
        scores = {p: scores_by_source(n, crops, ages, genders, sources, partner) for p, n in networks.items()}
        if int8_copy(models / name).is_file():  # timed here too, so that "auto" can run the faster of the two
            networks["int8"] = load_network(int8_copy(models / name), [OPENVINO])
        ms = {p: fastest_ms(n.run, crops[:8], repeats=30) for p, n in networks.items()}
        reasons = classifier_gate(scores["fp32"], scores["bf16"], ms["fp32"], ms["bf16"])
        verdicts[name] = {"passed": not reasons, "reasons": reasons, "val": scores, "ms_for_8": ms}
        print(f"{name}: {'passes' if not reasons else 'fails: ' + '; '.join(reasons)} "
              f"({ms['fp32']:.1f} -> {ms['bf16']:.1f} ms for 8 crops"
              + (f"; its INT8 copy {ms['int8']:.1f} ms" if "int8" in ms else "") + ")", flush=True)
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--media", type=Path, default=DEFAULT_MEDIA)
    args = parser.parse_args()
    if not bf16_native():
        raise SystemExit("this CPU does not compute in BF16 natively (OpenVINO lists no BF16 capability): BF16 "
                         "can be neither measured nor used here")
    verdicts = judge_classifiers(args.models) | judge_detector(args.models, args.media)
    for name, verdict in verdicts.items():
        verdict["model_sha256"] = sha256(args.models / name)
        if "int8" in verdict.get("ms_for_8", {}):
            verdict["int8_sha256"] = sha256(int8_copy(args.models / name))
    out = args.models / BF16_VERDICTS
    out.write_text(json.dumps(verdicts, indent=1) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
