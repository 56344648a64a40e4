"""`agegender soak`: the kiosk's pipeline (capture thread, tracking mode, smoothing) on a looped video
replayed in real time like a camera, for a given time. Every interval it reports resident memory, latency percentiles (capture to result),
threads, open files and sockets; at the end it checks that nothing grows after the warm-up."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import psutil

from agegender.sources.live import FrameGrabber, PacedReplay
from agegender.outputs.safety import write_bytes_atomically

MAX_MEMORY_GROWTH = 0.05  # after warm-up
MAX_P99_GROWTH = 1.5  # last interval's p99 against the first one after warm-up


@dataclass
class Sample:
    at_s: float
    frames: int
    fps: float
    p50_ms: float
    p99_ms: float
    rss_mb: float
    threads: int
    open_files: int
    sockets: int


def process_counts(process: psutil.Process) -> dict:
    return {"rss_mb": process.memory_info().rss / 2**20, "threads": process.num_threads(),
            "open_files": process.num_fds(), "sockets": len(process.net_connections(kind="all"))}


def verdict(samples: list[Sample], warmup_s: float, check_latency: bool = True) -> dict:
    """Pass/fail of each check, comparing the first sample after warm-up with the rest."""
    settled = [s for s in samples if s.at_s > warmup_s]
    if len(settled) < 2:
        return {"ok": False, "problems": ["too short: fewer than two samples after the warm-up"]}
    base, last = settled[0], settled[-1]
    growth = last.rss_mb / base.rss_mb - 1
    problems = []
    if growth >= MAX_MEMORY_GROWTH:
        problems.append(f"memory grew {100 * growth:.1f}% after warm-up ({base.rss_mb:.0f} -> {last.rss_mb:.0f} MB)")
    if max(s.threads for s in settled) > base.threads:
        problems.append(f"threads grew from {base.threads} to {max(s.threads for s in settled)}")
    if max(s.open_files for s in settled) > base.open_files:
        problems.append(f"open files grew from {base.open_files} to {max(s.open_files for s in settled)}")
    if any(s.sockets for s in samples):
        problems.append("a network socket was open (the pipeline should use none)")
    p99_ratio = last.p99_ms / base.p99_ms if base.p99_ms else float("nan")
    if check_latency and p99_ratio > MAX_P99_GROWTH:
        problems.append(f"p99 latency rose from {base.p99_ms:.0f} to {last.p99_ms:.0f} ms")
    return {"ok": not problems, "problems": problems, "memory_growth": round(growth, 4),
            "peak_rss_mb": round(max(s.rss_mb for s in settled), 1), "p99_ratio": round(p99_ratio, 3),
            "threads": [base.threads, last.threads], "open_files": [base.open_files, last.open_files]}


def _print_now(line: str) -> None:
    print(line, flush=True)  # also when redirected to a log file


def soak(pipeline, video: Path, duration_s: float, interval_s: float, height: int = 720,
         report=_print_now) -> tuple[list[Sample], bool]:
    """The samples, and whether Ctrl-C (or SIGTERM, where it raises KeyboardInterrupt) cut the run short:
    the samples taken until then are kept either way."""
    process = psutil.Process()
    # Like a camera: real-time frames, the newest one wins, so latency is what a kiosk visitor sees.
    grabber = FrameGrabber(str(video), open_fn=lambda spec: PacedReplay(spec, height=height))
    grabber.start()
    samples: list[Sample] = []
    latencies: list[float] = []
    interrupted = False
    started = time.monotonic()
    next_sample = started + interval_s
    report(f"{'time':>7} {'frames':>6} {'fps':>5} {'p50 ms':>7} {'p99 ms':>7} {'RSS MB':>7} {'threads':>7} "
           f"{'files':>5} {'sockets':>7}")
    try:
        while time.monotonic() - started < duration_s:
            frame = grabber.take(timeout=0.5)
            if frame is None:
                if grabber.state not in ("starting", "running"):
                    raise RuntimeError(f"the source stopped: {grabber.state}")
                continue
            pipeline.process(frame)
            latencies.append((time.monotonic() - frame.captured_at) * 1000)
            now = time.monotonic()
            if now >= next_sample:
                counts = process_counts(process)
                sample = Sample(round(now - started, 1), len(latencies), round(len(latencies) / interval_s, 2),
                                round(float(np.percentile(latencies, 50)), 1),
                                round(float(np.percentile(latencies, 99)), 1), round(counts["rss_mb"], 1),
                                counts["threads"], counts["open_files"], counts["sockets"])
                samples.append(sample)
                report(f"{sample.at_s:>6.0f}s {sample.frames:>6} {sample.fps:>5.1f} {sample.p50_ms:>7.1f} "
                       f"{sample.p99_ms:>7.1f} {sample.rss_mb:>7.1f} {sample.threads:>7} {sample.open_files:>5} "
                       f"{sample.sockets:>7}")
                latencies = []
                next_sample += interval_s
    except KeyboardInterrupt:
        interrupted = True
    finally:
        grabber.stop()
        grabber.join(2.0)
    return samples, interrupted


def write_report(path: Path, samples: list[Sample], result: dict, settings: dict) -> None:
    text = json.dumps({"settings": settings, "samples": [asdict(s) for s in samples], "verdict": result}, indent=1)
    write_bytes_atomically(Path(path), (text + "\n").encode("utf-8"))
