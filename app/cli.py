"""The `agegender` command."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from app import __version__
from app.errors import AgeGenderError

log = logging.getLogger("agegender")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    from app.runtime import PROVIDER_CHOICES
    parser.add_argument("--min-face", type=int, default=20, help="smallest face to look for, in pixels (20)")
    parser.add_argument("--buckets", default="default",
                        help="age buckets: default, adience, decades, or ranges like '0-9,10-19,...,70+'")
    parser.add_argument("--provider", choices=PROVIDER_CHOICES, default="auto",
                        help="ONNX Runtime execution provider: auto (CUDA if available), cpu, cuda")
    parser.add_argument("--models", type=Path, help="folder with multitask.onnx, age.onnx, gender.onnx")
    parser.add_argument("--max-faces", type=int, default=64, help="most faces classified per frame (64)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agegender", description="Age and gender from faces, in real time. "
                                     "Without a command, opens the window on the default camera.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--source", help="camera index, video or image file, folder, or rtsp:// / http:// URL")
    parser.add_argument("--design", choices=("multitask", "single", "compare"))
    parser.add_argument("--kiosk", action="store_true", default=None, help="full screen, no menus, writes nothing")
    parser.add_argument("--config", type=Path, help="TOML settings file (see README)")
    parser.add_argument("--models", type=Path, help="folder with multitask.onnx, age.onnx, gender.onnx")
    commands = parser.add_subparsers(dest="command")
    process = commands.add_parser("process", help="process a video, an image or a folder of images to files")
    process.add_argument("input", help="video file, image file, or folder of images")
    process.add_argument("--design", choices=("multitask", "single", "both"), default="multitask")
    process.add_argument("--out", type=Path, help="annotated video (.mp4) or, for images, an image or a folder")
    process.add_argument("--results", type=Path, help="per-frame results: .jsonl, or .csv (one row per face)")
    process.add_argument("--track", action="store_true",
                         help="follow faces across frames: a track id per face and labels smoothed per track")
    process.add_argument("--detect-every", type=int, default=1, metavar="N",
                         help="full detection every N frames, tracked faces refined between (1; N > 1 implies --track)")
    _add_model_options(process)
    bench = commands.add_parser("bench", help="speed, recall and flicker against reference implementations")
    bench.add_argument("--json", help="also write the figures to this JSON file")
    bench.add_argument("--media", default=None, help="the shared media folder or the crowd video (../shared/media)")
    bench.add_argument("--models", type=Path)
    bench.add_argument("--quick", action="store_true", help="few frames: checks the benchmark runs, figures are rough")
    return parser


def _build_pipeline(args, design_names: list[str]):
    from app import buckets
    from app.designs import load_design
    from app.detect import DetectorSettings, MtcnnDetector
    from app.paths import MODELS_DIR
    from app.pipeline import Pipeline
    from app.runtime import choose_providers
    from app.track import Tracker

    try:
        scheme = buckets.scheme(args.buckets)
        settings = DetectorSettings(min_face=args.min_face)
    except ValueError as exc:
        raise AgeGenderError(str(exc)) from exc
    providers = choose_providers(args.provider)
    designs = {name: load_design(name, args.models or MODELS_DIR, scheme, providers) for name in design_names}
    detector = MtcnnDetector(settings, providers=providers)
    detect_every = getattr(args, "detect_every", 1)
    if detect_every < 1:
        raise AgeGenderError(f"--detect-every must be at least 1, got {detect_every}")
    tracker = Tracker() if getattr(args, "track", False) or detect_every > 1 else None
    pipeline = Pipeline(detector, designs, args.max_faces, tracker=tracker, detect_every=detect_every)
    return pipeline, scheme, detector.provider


def _process(args) -> int:
    from app.process import run
    names = ["multitask", "single"] if args.design == "both" else [args.design]
    pipeline, scheme, provider = _build_pipeline(args, names)
    log.info("running %s on %s", " and ".join(names), provider)
    return run(args.input, pipeline, names, args.out, args.results, list(scheme.labels), provider)


def _bench(args) -> int:
    # benchmarks/ may load facenet-pytorch (torch) as the reference; the app's own modules never do.
    from benchmarks.frames import DEFAULT_MEDIA
    from benchmarks.run import main as bench_main
    args.media = args.media or DEFAULT_MEDIA
    return bench_main(args)


def _window(args) -> int:
    from app.config import load_settings
    from app.gui.launch import run_window
    settings = load_settings(args.config, {"source": args.source, "design": args.design, "kiosk": args.kiosk})
    return run_window(settings, args.models)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="agegender: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return _window(args)
        return {"process": _process, "bench": _bench}[args.command](args)
    except AgeGenderError as exc:
        print(f"agegender: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
