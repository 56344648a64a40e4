"""python -m training: every stage that makes models/ from ../shared, in order, going on where it stopped.

    python -m training            # the stages not yet done, in order (run it again after a pause or a crash)
    python -m training --list     # each stage, its command, and whether it is done
    python -m training --from export   # that stage and every one after it again

Stages: splits (stored in training/splits/), crops (cache/), train (runs/; it pauses after --max-minutes
and goes on from its checkpoints), degrade (the validation faces as a camera delivers them, cache/, for
calibration), export (models/*.onnx, gender calibrated), quantize (INT8 copies behind
their gate), evaluate (docs/evaluation/: the report and metrics), metrics (the test metrics embedded in
the exported files), bf16 (this CPU's BF16 verdicts, models/bf16.json). The first four are done when
their outputs are there; each later one is recorded in runs/stages.json when it succeeds. A stage counts
as done only while nothing before it has been redone since: new crops retrain, a new training exports.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training.sources import SOURCES, TRAINING_SOURCES
from training.utkface import ROOT, SPLIT_NAMES, SPLITS_DIR



def _runs() -> Path:
    return Path(os.environ.get("AGEGENDER_RUNS") or ROOT / "runs")


def _record_path() -> Path:
    return _runs() / "stages.json"
def pretrained() -> str:
    """The recipe's trunk's pretrained weights, as the stages name them from the project's root."""
    from training import recipe
    from training.trunks import TRUNKS
    return os.path.relpath(TRUNKS[recipe.TRUNK].pretrained, ROOT)
DESIGNS = ("multitask", "age", "gender")


def _finished_at(paths: list[Path]) -> float | None:
    """When the newest of `paths` was written, or None where one is missing."""
    if not all(path.is_file() for path in paths):
        return None
    return max(path.stat().st_mtime for path in paths)


def _splits_stored() -> float | None:
    return _finished_at([SPLITS_DIR / f"{source}_{part}.txt" for source in TRAINING_SOURCES for part in SPLIT_NAMES])


def crop_caches() -> list[Path]:
    """The crop caches the stages read: every training source at the recipe's trunk's input size (training),
    and the exact-age sources at the template's 112 (the stages after it, which read those still)."""
    from training import crops, recipe
    from training.trunks import TRUNKS
    wanted = {(source, TRUNKS[recipe.TRUNK].input_size) for source in TRAINING_SOURCES}
    wanted |= {(source, crops.CROP_SIZE) for source in SOURCES}
    return [path for source, size in sorted(wanted) for path in crops.cache_paths(source, size, crops.CACHE_DIR)]


def crop_sizes() -> list[str]:
    from training import crops, recipe
    from training.trunks import TRUNKS
    return [str(size) for size in sorted({crops.CROP_SIZE, TRUNKS[recipe.TRUNK].input_size})]


def _crops_cached() -> float | None:
    return _finished_at(crop_caches())


def _degraded_cached() -> float | None:
    """When the degraded faces were made, or None where they are missing or from an earlier recipe."""
    from training import crops, degrade
    path = degrade.degraded_path(crops.CACHE_DIR)
    if path.is_file() and degrade.stored_recipe_version(path) != degrade.RECIPE_VERSION:
        return None
    return _finished_at([path])


def _trained() -> float | None:
    """When the last network's run stopped (its epochs, early stopping or its step budget; not a pause)."""
    histories = [_runs() / design / "history.json" for design in DESIGNS]
    if not all(path.is_file() and json.loads(path.read_text()).get("stopped") for path in histories):
        return None
    return _finished_at(histories)


@dataclass(frozen=True)
class Stage:
    name: str
    commands: tuple[tuple[str, ...], ...]  # each `python -m ...` in turn
    # for the stages that are done when their outputs exist: when they were written, or None
    outputs_there: Callable[[], float | None] | None = None

    def command_lines(self) -> list[str]:
        return ["python -m " + " ".join(command) for command in self.commands]


STAGES = (
    Stage("splits", (("training.utkface",), ("training.aaf",), ("training.fairface",)), _splits_stored),
    Stage("crops", (("training.crops", *(arg for size in crop_sizes() for arg in ("--size", size))),), _crops_cached),
    Stage("train", (("training.train", "--all", "--init", pretrained()),), _trained),
    Stage("degrade", (("training.degrade",),), _degraded_cached),
    Stage("export", (("training.export",),)),
    Stage("quantize", (("training.quantize",),)),
    Stage("evaluate", (("training.evaluate", "--peer", "docs/evaluation/peer_predictions.json"),)),
    Stage("metrics", (("training.export", "--metrics", "docs/evaluation/metrics.json"),)),
    Stage("bf16", (("training.bf16",),)),
)


def _recorded() -> dict[str, float]:
    return json.loads(_record_path().read_text()) if _record_path().is_file() else {}


def done_stages(record: dict[str, float]) -> set[str]:
    """The stages whose work stands: done (outputs there, or recorded) after every stage before it."""
    done, latest = set(), 0.0
    for stage in STAGES:
        finished = stage.outputs_there() if stage.outputs_there is not None else record.get(stage.name)
        if finished is None or finished < latest:
            break
        done.add(stage.name)
        latest = finished
    return done


def _note(record: dict[str, float], name: str) -> None:
    record[name] = time.time()
    _record_path().parent.mkdir(parents=True, exist_ok=True)
    _record_path().write_text(json.dumps(record, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [stage.name for stage in STAGES]
    parser.add_argument("--list", action="store_true", help="show the stages and which are done; run nothing")
    parser.add_argument("--from", dest="start", choices=names, help="do this stage and every one after it again")
    args = parser.parse_args(argv)
    record = _recorded()
    if args.start:
        for name in names[names.index(args.start):]:
            record.pop(name, None)
    done = done_stages(record) - (set(names[names.index(args.start):]) if args.start else set())
    if args.list:
        for stage in STAGES:
            print(f"{'done' if stage.name in done else 'to do':>6}  {stage.name:<9} {'; '.join(stage.command_lines())}")
        return 0
    for stage in STAGES:
        if stage.name in done:
            continue
        for command, line in zip(stage.commands, stage.command_lines()):
            print(f"training: {stage.name}: {line}", flush=True)
            returncode = subprocess.run([sys.executable, "-m", *command], cwd=ROOT).returncode
            if returncode:
                print(f"training: {stage.name} failed (exit {returncode}); fix what it says and run "
                      "python -m training again: it goes on from this stage", file=sys.stderr)
                return returncode
        if stage.outputs_there is not None:
            if stage.outputs_there() is None:  # the training run paused at its time limit
                print(f"training: {stage.name} is not finished (paused); run python -m training again to go on")
                return 0
        else:
            _note(record, stage.name)
    print("training: every stage is done; models/ holds the new networks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
