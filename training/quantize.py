"""INT8 copies of the classifiers, shipped only where they keep the FP32 network's accuracy and are faster.

    python -m training.quantize [--models models]

For each of multitask.onnx, age.onnx and gender.onnx: ONNX Runtime's static quantisation (QDQ format,
per-channel int8 weights, uint8 activations), calibrated on real aligned crops of the training split of
every source (the app's own detector and aligner made them), each activation's range set to hold all but
its rarest 0.001% of values (ACTIVATION_PERCENTILE; where ONNX Runtime cannot histogram one of them, as in
an untrained network, the whole network takes min-max ranges, and the verdict says so). The INT8 copy is then run beside its FP32
self on the validation split of every source (never the test split, which must not help choose what
ships), on ONNX Runtime and on OpenVINO where it is installed; it is written as NAME.int8.onnx only if, on
each runtime and every source, its gender
accuracy is within GENDER_TOLERANCE points and its MAE within MAE_TOLERANCE years of the FP32 network's,
its sure gender answers (by the calibration both share, and the rule for children, which for the
gender network reads the FP32 age network's estimates) as often right and nearly as many, and a batch
of 8 crops runs faster. Where a copy fails, the next plan (PLANS) keeps more of the network
in float and is tried in turn. The verdicts go to docs/evaluation/int8.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_static)

from agegender.vision.designs import (gender_rule, expected_age, int8_copy, load_network, says_female, sigmoid,
                                      softmax)
from agegender.vision.runtime import CPU, OPENVINO, openvino_available
from training.calibrate import validation_faces
from training.metrics import mean_absolute_error
from training.evaluate import fastest_ms
from training.utkface import ROOT

NETWORK_FILES = ("multitask.onnx", "age.onnx", "gender.onnx")
GENDER_TOLERANCE = 0.003  # 0.3 points of accuracy
MAE_TOLERANCE = 0.1  # years
COVERAGE_TOLERANCE = 0.02  # of the faces answered as sure
CALIBRATION_CROPS = 512
ACTIVATION_PERCENTILE = 99.999


class CropReader(CalibrationDataReader):
    """Feeds the quantiser batches of crops normalised exactly as the app feeds the network."""

    def __init__(self, network, crops_bgr: np.ndarray, batch: int = 32) -> None:
        self._batches = iter([network.input_tensor(crops_bgr[i:i + batch]) for i in range(0, len(crops_bgr), batch)])
        self._input = network.session.get_inputs()[0].name

    def get_next(self):
        batch = next(self._batches, None)
        return None if batch is None else {self._input: batch}


def kept_in_float(graph: onnx.GraphProto, plan: str) -> list[str]:
    """The nodes a plan leaves in float. Always the heads (Gemm/MatMul): a sliver of the cost, and their
    outputs are the answers. "depthwise" adds the depthwise convolutions, whose few weights per channel
    quantise worst; "ends" adds the first and last convolutions too."""
    kept = [node.name for node in graph.node if node.op_type in ("Gemm", "MatMul")]
    convs = [node for node in graph.node if node.op_type == "Conv"]
    if plan in ("depthwise", "ends"):
        kept += [node.name for node in convs
                 if any(a.name == "group" and a.i > 1 for a in node.attribute)]
    if plan == "ends" and convs:
        kept += [convs[0].name, convs[-1].name]
    return kept


PLANS = ("heads", "depthwise", "ends")  # tried in this order: the most INT8 first


def quantize(fp32_path: Path, calibration_crops: np.ndarray, out_path: Path, plan: str = "heads") -> str:
    """Write the INT8 copy; return how its activation ranges were set ("percentile" or "minmax")."""
    network = load_network(fp32_path, ["CPUExecutionProvider"])
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / out_path.name
        settings = dict(quant_format=QuantFormat.QDQ, per_channel=True, weight_type=QuantType.QInt8,
                        activation_type=QuantType.QUInt8,
                        nodes_to_exclude=kept_in_float(onnx.load(str(fp32_path)).graph, plan))
        ranges = "percentile"
        try:
            # activation ranges that ignore the rarest 0.001%: a few outlying values no longer stretch
            # the 256 steps every other value must share
            quantize_static(str(fp32_path), str(staged), CropReader(network, calibration_crops), **settings,
                            calibrate_method=CalibrationMethod.Percentile,
                            extra_options={"CalibPercentile": ACTIVATION_PERCENTILE})
        except ValueError as error:
            if "Too many bins for data range" not in str(error):
                raise
            # numpy cannot cut an activation's near-zero range (an untrained network's) into 2048 bins
            print(f"{fp32_path.name}: percentile ranges impossible ({error}); the whole network uses min-max ranges")
            ranges = "minmax"
            quantize_static(str(fp32_path), str(staged), CropReader(network, calibration_crops), **settings)
        model = onnx.load(str(staged))
        describe_as_int8(model, onnx.load(str(fp32_path)))
        onnx.save(model, str(staged))
        os.replace(staged, out_path)
    return ranges


def describe_as_int8(model: onnx.ModelProto, fp32: onnx.ModelProto) -> None:
    """Give an INT8 copy its FP32 network's description (calibration and test metrics included), marked int8."""
    del model.metadata_props[:]
    for prop in fp32.metadata_props:
        model.metadata_props.add(key=prop.key, value=prop.value)
    model.metadata_props.add(key="precision", value=json.dumps("int8"))


def answers(network, crops: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, list] = {}
    for start in range(0, len(crops), 128):
        for name, value in network.run(crops[start:start + 128]).items():
            out.setdefault(name, []).append(value)
    return {name: np.concatenate(parts) for name, parts in out.items()}


def quality(outputs: dict[str, np.ndarray], ages: np.ndarray, genders: np.ndarray, info=None,
            partner_age: np.ndarray | None = None) -> dict:
    """MAE, gender accuracy and, where the network carries its calibration (`info`), the accuracy and
    coverage of the answers it gives as sure, by its own temperature and threshold and the rule for
    children. The age that rule reads is the network's own, or for a gender network the estimate of
    the age network it is paired with (`partner_age`)."""
    result = {}
    own_age = expected_age(softmax(outputs["age_logits"])) if "age_logits" in outputs else None
    if own_age is not None:
        result["mae"] = mean_absolute_error(own_age, ages, outputs["age_logits"].shape[1])
    if "gender_logit" in outputs:
        right = says_female(sigmoid(outputs["gender_logit"])) == (genders == 1)
        result["gender_accuracy"] = float(right.mean())
        age_estimate = own_age if own_age is not None else partner_age
        if info is not None and info.gender_thresholds and age_estimate is not None:
            p_female = sigmoid(outputs["gender_logit"] / info.gender_temperature)
            sure = gender_rule(info).is_sure(p_female, age_estimate)
            result["sure_coverage"] = float(sure.mean())
            result["sure_accuracy"] = float(right[sure].mean()) if sure.any() else 1.0
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def graph_sha256(path: Path) -> str:
    """The network's own hash, which its description (test metrics, calibration) leaves unchanged."""
    return hashlib.sha256(onnx.load(str(path)).graph.SerializeToString()).hexdigest()


def scores_by_source(network, crops, ages, genders, sources, partner_age: np.ndarray | None = None) -> dict:
    out = answers(network, crops)
    scores = {}
    for source in np.unique(sources):
        mine = sources == source
        scores[str(source)] = quality({k: v[mine] for k, v in out.items()}, ages[mine], genders[mine], network.info,
                                      None if partner_age is None else partner_age[mine])
    return scores


def judged_runtimes() -> dict[str, str]:
    """The runtimes a copy must pass on: ONNX Runtime's CPU provider, and OpenVINO where it is installed
    (the app's CPU runtime by default): the same INT8 file computes differently on each."""
    return {"onnxruntime": CPU, **({"openvino": OPENVINO} if openvino_available() else {})}


def judged(network, crops, ages, genders, sources, partner_age) -> dict:
    """A network's figures on the validation faces of each source, and its time for a batch of 8."""
    return {"val": scores_by_source(network, crops, ages, genders, sources, partner_age),
            "ms_for_8": fastest_ms(network.run, crops[:8], repeats=30)}


def gate(fp32: dict, int8: dict, fp32_ms: float, int8_ms: float) -> list[str]:
    """The reasons an INT8 copy may not ship; empty when it may."""
    reasons = []
    for source, reference in fp32.items():
        if "gender_accuracy" in reference and int8[source]["gender_accuracy"] < reference["gender_accuracy"] - GENDER_TOLERANCE:
            reasons.append(f"{source}: gender accuracy {int8[source]['gender_accuracy']:.2%} against "
                           f"{reference['gender_accuracy']:.2%}")
        if "mae" in reference and int8[source]["mae"] > reference["mae"] + MAE_TOLERANCE:
            reasons.append(f"{source}: MAE {int8[source]['mae']:.2f} against {reference['mae']:.2f} years")
        if "sure_accuracy" in reference:  # the copy shares the threshold: it must keep what that promises
            ours, theirs = int8[source], reference
            if ours["sure_accuracy"] < theirs["sure_accuracy"] - GENDER_TOLERANCE:
                reasons.append(f"{source}: sure answers right {ours['sure_accuracy']:.2%} against "
                               f"{theirs['sure_accuracy']:.2%}")
            if ours["sure_coverage"] < theirs["sure_coverage"] - COVERAGE_TOLERANCE:
                reasons.append(f"{source}: sure answers cover {ours['sure_coverage']:.1%} against "
                               f"{theirs['sure_coverage']:.1%}")
    if int8_ms >= fp32_ms:
        reasons.append(f"not faster: {int8_ms:.1f} against {fp32_ms:.1f} ms for 8 crops")
    return reasons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "evaluation" / "int8.json")
    parser.add_argument("--networks", nargs="+", choices=NETWORK_FILES, default=list(NETWORK_FILES),
                        help="which to quantise; the verdicts of the others in --out are kept")
    parser.add_argument("--plans", nargs="+", choices=PLANS, default=list(PLANS),
                        help="what stays in float, tried in order until a copy passes the gate")
    args = parser.parse_args()
    train_crops, _, _, _ = validation_faces("train")
    pick = np.random.default_rng(0).choice(len(train_crops), CALIBRATION_CROPS, replace=False)
    calibration = np.ascontiguousarray(train_crops[np.sort(pick)])
    crops, ages, genders, sources = validation_faces("val")  # the gate never sees the test split
    verdicts = json.loads(args.out.read_text()) if args.out.is_file() else {}
    runtimes = judged_runtimes()
    partner_age = None  # the FP32 age network's estimates, for the gender network's rule for children
    if "gender.onnx" in args.networks:
        if not (args.models / "age.onnx").is_file():
            raise SystemExit(f"{args.models / 'age.onnx'} is missing: the gender network's sure answers are judged "
                             "with the ages of the age network it is paired with")
        age_network = load_network(args.models / "age.onnx", [CPU])
        partner_age = expected_age(softmax(answers(age_network, crops)["age_logits"]))
    for name in args.networks:
        fp32_path = args.models / name
        int8_path = int8_copy(fp32_path)
        int8_path.unlink(missing_ok=True)
        fp32 = {runtime: judged(load_network(fp32_path, [provider]), crops, ages, genders, sources, partner_age)
                for runtime, provider in runtimes.items()}
        verdicts[name] = {"shipped": False, "judged_on": "validation split", "fp32": fp32, "plans": {},
                          "graph_sha256": graph_sha256(fp32_path)}
        for plan in args.plans:
            candidate = int8_path.with_name("candidate-" + int8_path.name)
            try:
                ranges = quantize(fp32_path, calibration, candidate, plan)
                int8 = {runtime: judged(load_network(candidate, [provider]), crops, ages, genders, sources, partner_age)
                        for runtime, provider in runtimes.items()}
            except BaseException:  # never leave a half-judged copy in models/ (the wheel would pack it)
                candidate.unlink(missing_ok=True)
                raise
            reasons = [f"{runtime}: {reason}" for runtime in runtimes
                       for reason in gate(fp32[runtime]["val"], int8[runtime]["val"], fp32[runtime]["ms_for_8"],
                                          int8[runtime]["ms_for_8"])]
            verdicts[name]["plans"][plan] = {"reasons": reasons, **int8, "activation_ranges": ranges}
            speeds = ", ".join(f"{runtime} {fp32[runtime]['ms_for_8']:.1f} -> {int8[runtime]['ms_for_8']:.1f} ms"
                               for runtime in runtimes)
            print(f"{name}, {plan} in float: {'passes' if not reasons else 'fails: ' + '; '.join(reasons)} "
                  f"({speeds} for 8 crops)", flush=True)
            if not reasons:
                os.replace(candidate, int8_path)
                verdicts[name].update(shipped=True, plan=plan)
                break
            candidate.unlink()
        args.out.write_text(json.dumps(verdicts, indent=1) + "\n")  # each network's verdict as soon as it is known
    withdraw_lone_copies(args.models, verdicts)
    args.out.write_text(json.dumps(verdicts, indent=1) + "\n")


def withdraw_lone_copies(models: Path, verdicts: dict | None = None) -> None:
    """The app runs the pair in INT8 only where both its networks have a copy, and the gender copy was gated
    on its partner's ages: a copy whose partner has none is removed (and its verdict, if given, says why)."""
    for name, partner in (("age.onnx", "gender.onnx"), ("gender.onnx", "age.onnx")):
        mine = int8_copy(models / name)
        if mine.exists() and not int8_copy(models / partner).exists():
            mine.unlink()
            print(f"{name}: its INT8 copy is withdrawn: {partner} has none (run python -m training.quantize)")
            verdict = (verdicts or {}).get(name, {})
            if verdict.get("shipped"):
                verdict.update(shipped=False, withdrawn=f"passed with plan {verdict.pop('plan')}, but {partner} has "
                                                        "no INT8 copy, and the app runs the pair in INT8 only with both")

if __name__ == "__main__":
    main()
