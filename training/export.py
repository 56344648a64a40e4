"""Export trained networks to ONNX with the metadata the app reads.

    python -m training.export [--metrics docs/evaluation/metrics.json]   # runs/*/best.pt -> models/*.onnx

Each file gets a dynamic batch axis and, as JSON strings in its metadata: design, variant, input size,
mean/std, colour order, alignment template id, age classes, gender labels, default age buckets, output
names, schema version, training commit, the training recipe and (when given) test metrics. The new networks' gender is then
calibrated on the validation faces (training.calibrate), which adds the temperature and the threshold.
An INT8 copy (training.quantize) of the same weights is kept with the new description; one of other weights
is removed, and so is the pair's other copy.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import onnx
import torch
from torch import nn

from agegender.vision.align import TEMPLATE_ID
from agegender.vision.buckets import DEFAULT
from agegender.vision.designs import int8_copy
from agegender.vision.model_info import SCHEMA_VERSION
from training.crops import CROP_SIZE
from training.degrade import degraded_path
from training.networks import NUM_AGES
from training.onnx_export import export_onnx, training_commit
from training.calibrate import CALIBRATION_KEYS, FORMER_KEYS
from training.quantize import describe_as_int8, withdraw_lone_copies
from training.recipe import COLOUR_ORDER, MEAN, STD
from training.train import RUNS_DIR, build_model
from training.utkface import ROOT

# training design -> (design stored in the file, output names, shipped file name)
EXPORTS = {
    "multitask": ("multitask", ("age_logits", "gender_logit"), "multitask.onnx"),
    "age": ("age", ("age_logits",), "age.onnx"),
    "gender": ("gender", ("gender_logit",), "gender.onnx"),
}


class _Outputs(nn.Module):
    """Gives every network a tuple of outputs, so one export call fits all designs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        out = self.model(x)
        return out if isinstance(out, tuple) else (out,)


def metadata(training_design: str, test_metrics: dict | None = None, note: str = "",
             commit: str | None = None, training: dict | None = None, input_size: int = CROP_SIZE) -> dict:
    design, output_names, _ = EXPORTS[training_design]
    meta = {"schema_version": SCHEMA_VERSION, "design": design, "variant": training_design,
            "input_size": input_size, "mean": list(MEAN), "std": list(STD), "colour_order": COLOUR_ORDER,
            "template_id": TEMPLATE_ID, "age_classes": NUM_AGES, "gender_labels": ["male", "female"],
            "age_buckets": str(DEFAULT), "outputs": list(output_names), "training_commit": commit or training_commit()}
    if test_metrics is not None:
        meta["test_metrics"] = test_metrics
    if note:
        meta["note"] = note
    if training:
        meta["training"] = training
    return meta


def export_network(model: nn.Module, training_design: str, path: Path, test_metrics: dict | None = None,
                   note: str = "", commit: str | None = None, training: dict | None = None) -> Path:
    _, output_names, _ = EXPORTS[training_design]
    size = getattr(model, "input_size", CROP_SIZE)  # the trunk's (training.trunks)
    example = torch.randn(2, 3, size, size)
    return export_onnx(_Outputs(model.eval()), example, path, input_name="crops", output_names=output_names,
                       dynamic_axes={"crops": {0: "batch"}, **{name: {0: "batch"} for name in output_names}},
                       metadata=metadata(training_design, test_metrics, note, commit, training, size))


def ship(model: nn.Module, training_design: str, path: Path, test_metrics: dict | None = None,
         commit: str | None = None, training: dict | None = None, keep_calibration: bool = True) -> None:
    """Export a network over its shipped file. Where the weights are the file's own (as when only the test
    metrics are added), its gender calibration still holds and is kept (unless keep_calibration is false),
    and so is its INT8 copy, given the new description; other weights drop the copy, for
    training.quantize to make anew."""
    previous = onnx.load(str(path)) if path.is_file() else None
    export_network(model, training_design, path, test_metrics, commit=commit, training=training)
    print(f"wrote {path}")
    exported = onnx.load(str(path))
    same_weights = previous is not None and exported.graph.SerializeToString() == previous.graph.SerializeToString()
    if same_weights and keep_calibration:
        calibration = [prop for prop in previous.metadata_props if prop.key in CALIBRATION_KEYS + FORMER_KEYS]
        if calibration:
            exported.metadata_props.extend(calibration)
            _save(exported, path)
    copy = int8_copy(path)
    if not copy.exists():
        return
    if not same_weights:
        copy.unlink()
        print(f"removed {copy.name} (quantised from other weights; run python -m training.quantize)")
        return
    int8 = onnx.load(str(copy))
    describe_as_int8(int8, exported)
    _save(int8, copy)
    print(f"kept {copy.name} (the same weights), with the new description")


def _save(model: onnx.ModelProto, path: Path) -> None:
    partial = path.with_suffix(".partial")
    onnx.save(model, str(partial))
    os.replace(partial, path)


def embed_metrics(path: Path, test_metrics: dict) -> None:
    """Puts new test metrics into a shipped file as it is, and into its INT8 copy, without exporting again:
    for files calibrated or quantised since their export, whose training run has moved on."""
    model = onnx.load(str(path))
    kept = [prop for prop in model.metadata_props if prop.key != "test_metrics"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key="test_metrics", value=json.dumps(test_metrics))
    _save(model, path)
    copy = int8_copy(path)
    if copy.exists():
        int8 = onnx.load(str(copy))
        describe_as_int8(int8, model)
        _save(int8, copy)
    print(f"embedded the test metrics in {path.name}" + (f" and {copy.name}" if copy.exists() else ""))


def load_trained(training_design: str, run_dir: Path | None = None) -> tuple[nn.Module, str | None, dict | None]:
    """The best checkpoint of a run, the commit of the code that trained it, and its recipe (from the
    run's last checkpoint: sources, batch, learning rate, trunk it started from, steps taken)."""
    run_dir = run_dir or RUNS_DIR / training_design
    checkpoint = torch.load(run_dir / "best.pt", map_location="cpu", weights_only=False)
    how = recipe(run_dir / "last.pt")
    # runs from before the recipe named its trunk were all MobileFaceNet's
    model = build_model(training_design, ((how or {}).get("recipe") or {}).get("trunk", "mobilefacenet"))
    model.load_state_dict(checkpoint["model"])
    return model.eval(), checkpoint.get("training_commit"), how


def recipe(last_checkpoint: Path) -> dict | None:
    """How a network was trained, for telling whether two were trained alike: sources, batch, rate, trunk,
    the step budget and the early stopping's patience, and the steps taken (fewer than the budget where
    validation loss stopped falling). Runs from before the recipe's targets and sampling were kept in the
    checkpoint lack "recipe"."""
    if not last_checkpoint.is_file():
        return None
    state = torch.load(last_checkpoint, map_location="cpu", weights_only=False)["state"]
    config = state.get("config", {})  # as the run was first started; the steps taken are what counts
    if "sources" not in config:
        return None  # a run from before recipes were kept
    return {"sources": list(config["sources"]), "batch": config["batch"], "lr": config["lr"],
            "init": Path(config["init"]).name if config.get("init") else None, "steps": state["global_step"],
            **({"budget": config["max_steps"], "patience": config["patience"]} if "max_steps" in config else {}),
            **({"recipe": state["recipe"]} if "recipe" in state else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--design", choices=list(EXPORTS), action="append",
                        help="default: multitask, age and gender")
    parser.add_argument("--metrics", type=Path, help="JSON of test metrics per design (from training.evaluate)")
    parser.add_argument("--as-shipped", action="store_true", help="with --metrics: put them into the files in "
                        "models/ as they are, exporting nothing (files calibrated since their export)")
    parser.add_argument("--no-calibrate", action="store_true", help="leave the gender calibration out (the app "
                        "then treats only answers above its default threshold as sure)")
    args = parser.parse_args()
    metrics = json.loads(args.metrics.read_text()) if args.metrics else {}
    if not args.no_calibrate and not args.as_shipped and not degraded_path().exists():
        parser.error(f"no degraded validation faces at {degraded_path()} for the calibration after the export: "
                     "run python -m training.degrade first (or export with --no-calibrate)")
    if args.as_shipped:
        if not args.metrics:
            parser.error("--as-shipped needs --metrics")
        for training_design in args.design or ["multitask", "age", "gender"]:
            reported_as = "single" if training_design in ("age", "gender") else training_design
            if metrics.get(reported_as) is not None:
                embed_metrics(ROOT / "models" / EXPORTS[training_design][2], metrics[reported_as])
        return
    for training_design in args.design or ["multitask", "age", "gender"]:
        path = ROOT / "models" / EXPORTS[training_design][2]
        reported_as = "single" if training_design in ("age", "gender") else training_design
        model, commit, how = load_trained(training_design)
        ship(model, training_design, path, metrics.get(reported_as), commit=commit, training=how,
             keep_calibration=not args.no_calibrate)
    withdraw_lone_copies(ROOT / "models")
    if not args.no_calibrate:
        from training.calibrate import main as calibrate
        calibrate([])


if __name__ == "__main__":
    main()
