"""The `agegender` command."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from agegender import __version__
from agegender.console import EscapingFormatter, say, survive_closed_streams
from agegender.errors import AgeGenderError
from agegender.interrupts import EXIT_INTERRUPTED, signals_raise_interrupt, stop_at_once_on_signal

log = logging.getLogger("agegender")


# The settings `process` and `soak` act on, from --config and their options; the file's other keys
# (the window's and the kiosk's) are listed as ignored.
FILE_SETTINGS = frozenset({"detector", "thresholds", "min_face", "buckets", "max_faces", "precision", "provider",
                           "backend", "max_image_megapixels"})


PRECISION_HELP = ("precision: auto (each network at the fastest precision that passed its accuracy gate on this CPU: "
                  "BF16 where the CPU computes it natively, or INT8 where a copy ships, else FP32; on the runtime "
                  "--backend chose), fp32, bf16, int8")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """Options that default to None: a value not given comes from --config, else from Settings."""
    from agegender.config import Settings
    defaults = Settings()
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                        help="TOML settings file; its detector, thresholds, min_face, buckets, max_faces, precision, "
                             "provider, backend and max_image_megapixels apply, the options given here override them")
    parser.add_argument("--detector", choices=Settings.CHOICES["detector"],
                        help=f"fast, or reference: facenet-pytorch's settings exactly ({defaults.detector})")
    parser.add_argument("--min-face", type=int, help=f"smallest face to look for, in pixels ({defaults.min_face})")
    parser.add_argument("--buckets", help="age buckets: default (the default), decades, or ranges from 0 without "
                                          "gaps like '0-9,10-19,...,70+'")
    parser.add_argument("--provider", choices=Settings.CHOICES["provider"],
                        help="ONNX Runtime execution provider: auto (CUDA if available; default), cpu, cuda")
    parser.add_argument("--backend", choices=Settings.CHOICES["backend"],
                        help="inference runtime: auto (OpenVINO on CPU where installed, ONNX Runtime for CUDA and "
                             "otherwise; default), openvino, onnxruntime")
    parser.add_argument("--precision", choices=Settings.CHOICES["precision"],
                        help=PRECISION_HELP + " (auto)")
    parser.add_argument("--models", type=Path, help="folder with multitask.onnx, age.onnx, gender.onnx and mtcnn/")
    parser.add_argument("--max-faces", type=int, help=f"most faces classified per frame ({defaults.max_faces}, at "
                                                      "least 1)")


def build_parser() -> argparse.ArgumentParser:
    from agegender.config import Settings  # imports ONNX Runtime, for its provider names
    parser = argparse.ArgumentParser(prog="agegender", description="Age and gender from faces, in real time. "
                                     "Without a command, opens the window on the default camera.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--source", help="camera index, video or image file, folder, or rtsp:// / http:// URL")
    parser.add_argument("--design", choices=("multitask", "single", "compare", "both"),
                        help="multitask: one network for age and gender; single: an age network and a gender "
                             "network; compare: both, side by side (formerly 'both') (default: multitask, or the "
                             "config file's)")
    parser.add_argument("--kiosk", action="store_true", default=None, help="full screen, no menus, writes nothing")
    parser.add_argument("--config", type=Path, help="TOML settings file (see docs/window.md)")
    parser.add_argument("--precision", choices=Settings.CHOICES["precision"],
                        help=PRECISION_HELP)
    parser.add_argument("--backend", choices=Settings.CHOICES["backend"],
                        help="inference runtime: auto (OpenVINO on CPU where installed), openvino, onnxruntime")
    parser.add_argument("--models", type=Path, help="folder with multitask.onnx, age.onnx, gender.onnx and mtcnn/")
    parser.add_argument("--record", type=Path, help="record the annotated video (.mp4 or .avi) from the start")
    parser.add_argument("--results", type=Path, help="export results from the start: .jsonl, or .csv (one row "
                                                     "per face)")
    commands = parser.add_subparsers(dest="command")
    process = commands.add_parser(
        "process", help="process videos and images to files: one input, or an archive of them with --out-dir",
        description="One input (a video, an image, or a folder of images) to --results and --out; or, with "
                    "--out-dir, every video and image the INPUTs name (files, folders searched recursively, globs) "
                    "to files in DIR, resumable, with the run's tables and report (docs/archive.md).")
    process.add_argument("input", nargs="+", metavar="INPUT",
                         help="video file, image file, folder of images; with --out-dir, any number of files, "
                              "folders and globs")
    process.add_argument("--design", choices=("multitask", "single", "compare", "both"), default="multitask",
                         help="multitask: one network for age and gender (default); single: an age network and "
                              "a gender network; compare: each face answered by both (formerly 'both')")
    process.add_argument("--out", type=Path, help="annotated video (.mp4) or, for images, an image or a folder")
    process.add_argument("--results", type=Path, help="per-frame results: .jsonl, or .csv (one row per face)")
    process.add_argument("--track", action=argparse.BooleanOptionalAction, default=None,
                         help="follow faces across frames: a track id per face and labels smoothed per track "
                              "(default: on for videos with --out-dir, so that people are tracks; off otherwise)")
    process.add_argument("--detect-every", type=int, default=1, metavar="N",
                         help="full detection every N frames, tracked faces refined between (1; N > 1 implies "
                              "--track); videos only: images are always processed one by one")
    archive = process.add_argument_group("archives (docs/archive.md)")
    archive.add_argument("--out-dir", type=Path, metavar="DIR",
                         help="process every input into DIR: a results file per input mirroring its path, "
                              "a manifest that lets the same command go on after a stop, summary and people "
                              "tables (.parquet, .csv) and report.html")
    archive.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="results files (jsonl)")
    archive.add_argument("--annotate", action="store_true", help="also an annotated copy of each input in DIR")
    archive.add_argument("--workers", type=int, metavar="N",
                         help="inputs processed at once, each in a process of its own with its share of the cores "
                              "(1); with --engine ray, Ray workers (default: the cluster's CPUs / 2)")
    archive.add_argument("--engine", choices=("local", "ray"), default="local",
                         help="local: this machine (default); ray: a Ray cluster (its install line: "
                              "docs/archive.md)")
    archive.add_argument("--ray-address", metavar="ADDR",
                         help="an existing Ray cluster (host:port); without it --engine ray starts one on this "
                              "machine for the run")
    archive.add_argument("--force", action="store_true",
                         help="redo every input, also those DIR's manifest holds as done, and accept new settings")
    megapixels = Settings().max_image_megapixels
    process.add_argument("--max-image-megapixels", type=float, metavar="MP",
                         help=f"refuse images whose header declares more pixels than this, before decoding "
                              f"({megapixels:g})")
    _add_model_options(process)
    bench = commands.add_parser(
        "bench", help="speed, recall and flicker against reference implementations",
        description="Times detection, classification and the whole pipeline on a real crowd video, against "
                    "facenet-pytorch's MTCNN where installed, in one process; prints the figures and their ratios "
                    "(docs/tracking-and-benchmark.md).")
    bench.add_argument("--json", help="also write the figures to this JSON file")
    bench.add_argument("--media", default=None, help="the shared media folder or the crowd video (../shared/media)")
    bench.add_argument("--models", type=Path, help="folder with multitask.onnx, age.onnx, gender.onnx and mtcnn/ "
                                                   "(default: the shipped models)")
    bench.add_argument("--quick", action="store_true", help="few frames: checks the benchmark runs, figures are rough")
    report = commands.add_parser("report", help="rebuild DIR/report.html from the tables of an archive run")
    report.add_argument("out_dir", type=Path, metavar="DIR", help="the --out-dir of `agegender process`")
    soak = commands.add_parser("soak", help="run the kiosk's pipeline on a looped video; report memory, latency, "
                               "threads over time and check none of them grows")
    soak.add_argument("video", type=Path, help="the video to loop (for example ../shared/media/crowd-1080p.mp4)")
    soak.add_argument("--minutes", type=float, default=30.0, help="how long to run (30)")
    soak.add_argument("--interval", type=float, default=60.0, help="seconds between reports (60)")
    soak.add_argument("--warmup", type=float, default=None,
                      help="seconds before memory and latency are taken as the baseline (10%% of the run)")
    soak.add_argument("--height", type=int, default=720, help="frames scaled to this height, 0 to keep (720)")
    soak.add_argument("--detect-every", type=int, default=0, metavar="N",
                      help="full detection every N frames; 0: auto, as in the kiosk (0)")
    soak.add_argument("--json", type=Path, help="also write the samples and the verdict to this JSON file")
    soak.add_argument("--no-latency-check", dest="check_latency", action="store_false",
                      help="judge memory, threads, files and sockets only: for a machine shared with other work, "
                           "where latency says more about the neighbours than about the app")
    _add_model_options(soak)
    return parser


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AgeGenderError(message)


def _process_settings(args):
    """--config, then the options given, as Settings, which check themselves: a bad value is refused with
    the key it names."""
    from agegender.config import load_settings
    options = {key: getattr(args, key, None) for key in FILE_SETTINGS}
    return load_settings(args.config, {**options, "detect_every": args.detect_every}, used=FILE_SETTINGS)


ARCHIVE_ONLY = {"format": "jsonl", "annotate": False, "workers": None, "engine": "local", "ray_address": None,
                "force": False}


def _process(args) -> int:
    _require(args.detect_every >= 1, f"--detect-every must be at least 1, got {args.detect_every}")
    if args.out_dir is not None:
        return _process_archive(args)
    _require(len(args.input) == 1, f"{len(args.input)} inputs given: several inputs are processed into a folder, "
                                   "with --out-dir DIR")
    given = [f"--{name.replace('_', '-')}" for name, default in ARCHIVE_ONLY.items() if getattr(args, name) != default]
    _require(not given, f"{', '.join(given)} go with --out-dir DIR (an archive run); for one input use --results "
                        "and --out")
    from agegender.assemble import build_pipeline
    from agegender.commands.process import check_outputs, is_stills, open_input, run
    from agegender.vision.designs import DESIGNS_RUN, design_choice
    from agegender.vision.parallel import frame_workers
    settings = _process_settings(args)
    names = list(DESIGNS_RUN[design_choice(args.design)])
    spec = args.input[0]
    source = open_input(spec, settings.max_image_megapixels)
    try:
        check_outputs(spec, source, args.out, args.results)
        track = bool(args.track) or args.detect_every > 1
        if track and is_stills(source):
            log.warning("--track and --detect-every are for videos; images are processed one by one, "
                        "independently of each other")
            track, settings = False, dataclasses.replace(settings, detect_every=1)
        pipeline, scheme, provider = build_pipeline(settings, args.models, names, all_required=True, track=track)
        log.info("running %s on %s", " and ".join(names), provider)
        return run(source, pipeline, names, args.out, args.results, list(scheme.labels), provider,
                   workers=min(frame_workers(), source.frame_count or frame_workers()))
    finally:
        source.close()


def _process_archive(args) -> int:
    from agegender.archive.engines import ray_host_port
    from agegender.archive.run import process_archive
    from agegender.archive.task import ArchiveOptions
    from agegender.vision.designs import DESIGNS_RUN, design_choice
    _require(args.out is None and args.results is None, "--out and --results are for one input; with --out-dir "
                                                        "each input's files go in DIR (add --annotate for videos)")
    _require(args.workers is None or args.workers >= 1, f"--workers must be at least 1, got {args.workers}")
    _require(args.ray_address is None or args.engine == "ray", "--ray-address goes with --engine ray")
    if args.ray_address is not None:
        ray_host_port(args.ray_address)  # refused before anything is written ('' would start a local cluster)
    settings = _process_settings(args)
    track = args.track is not False or args.detect_every > 1
    # absolute: Ray workers elsewhere do not share this working directory
    options = ArchiveOptions(out_dir=args.out_dir.absolute(), settings=settings,
                             models_dir=args.models.absolute() if args.models else None,
                             design_names=tuple(DESIGNS_RUN[design_choice(args.design)]), track=track,
                             results_format=args.format, annotate=args.annotate)
    workers = args.workers or (1 if args.engine == "local" else 0)  # 0: as many as the Ray cluster's CPUs allow
    return process_archive(args.input, options, args.engine, workers, args.ray_address, args.force)


def _report(args) -> int:
    from agegender.archive.report import write_report
    print(write_report(args.out_dir))
    return 0


def _bench(args) -> int:
    # The bench may load facenet-pytorch (torch) as its reference; the app's own modules never do.
    from agegender.commands.bench.frames import DEFAULT_MEDIA
    from agegender.commands.bench.run import main as bench_main
    args.media = args.media or DEFAULT_MEDIA
    return bench_main(args)


def _soak(args) -> int:
    from agegender.assemble import build_pipeline
    from agegender.sources.capture import VideoFileSource, local_inputs, open_source
    from agegender.outputs.safety import check_folder, refuse_outputs_over_inputs
    from agegender.commands.soak import soak, verdict, write_report
    _require(args.minutes > 0 and args.interval > 0, "--minutes and --interval must be positive")
    _require(args.height >= 0, f"--height must be 0 (keep the size) or more, got {args.height}")
    _require(args.warmup is None or args.warmup >= 0, f"--warmup must be 0 or more, got {args.warmup}")
    source = open_source(str(args.video))  # a clear error now rather than from the capture thread
    source.close()
    _require(isinstance(source, VideoFileSource), f"{args.video} is not a video file; the soak loops a video file")
    if args.json is not None:  # checked now: the figures of a long run must not be lost at its end
        refuse_outputs_over_inputs({"--json": args.json}, local_inputs(str(args.video)))
        check_folder(args.json)
    pipeline, _, provider = build_pipeline(_process_settings(args), args.models, ["multitask"], all_required=True,
                                         live=True)
    duration = args.minutes * 60
    warmup = duration * 0.1 if args.warmup is None else args.warmup
    log.info("soak: %s looped for %g min on %s, tracking mode every %d frames, warm-up %.0f s", args.video.name,
             args.minutes, provider, args.detect_every, warmup)
    with signals_raise_interrupt():
        try:
            samples, interrupted = soak(pipeline, args.video, duration, args.interval, args.height)
        finally:
            pipeline.close()
    result = verdict(samples, warmup, check_latency=args.check_latency)
    if args.json:
        write_report(args.json, samples, result, {"video": args.video.name, "minutes": args.minutes,
                                                  "height": args.height, "detect_every": args.detect_every,
                                                  "provider": provider, "warmup_s": warmup,
                                                  "interrupted": interrupted})
    if interrupted:
        print(f"agegender: soak interrupted after {len(samples)} reports"
              + (f"; they are in {args.json}" if args.json else ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    for problem in result["problems"]:
        print(f"agegender: soak: {problem}", file=sys.stderr)
    if result["ok"]:
        log.info("soak passed: memory %+.1f%% after warm-up (peak %.0f MB), p99 x%.2f, threads %s, files %s",
                 100 * result["memory_growth"], result["peak_rss_mb"], result["p99_ratio"], result["threads"],
                 result["open_files"])
    return 0 if result["ok"] else 1


def _window(args) -> int:
    from agegender.config import load_settings
    from agegender.gui.launch import run_window
    from agegender.vision.designs import design_choice
    design = design_choice(args.design) if args.design else None
    settings = load_settings(args.config, {"source": args.source, "design": design, "kiosk": args.kiosk,
                                           "precision": args.precision, "backend": args.backend})
    return run_window(settings, args.models, args.record, args.results)


def main(argv: list[str] | None = None) -> int:
    with stop_at_once_on_signal():  # until a command opens its outputs, see app/interrupts.py
        survive_closed_streams()  # a closed pipe or terminal silences the output, never the run
        handler = logging.StreamHandler()
        handler.setFormatter(EscapingFormatter("agegender: %(message)s"))
        logging.basicConfig(level=logging.INFO, handlers=[handler])
        args = build_parser().parse_args(argv)  # imports ONNX Runtime, for its provider names
        try:
            if args.command is None:
                return _window(args)
            return {"process": _process, "bench": _bench, "soak": _soak, "report": _report}[args.command](args)
        except AgeGenderError as exc:
            say(f"error: {exc}")
            return 2
        except KeyboardInterrupt:
            say("interrupted")
            return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
