"""The wheel: one top-level package, agegender, carrying every model file and icon the app loads."""
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (path,) = out.glob("agegender_live-*.whl")
    return zipfile.ZipFile(path)


def test_the_only_top_level_package_is_agegender(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist() if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"agegender"}
    assert not any(name.startswith(("agegender/training", "training/", "benchmarks/")) for name in wheel.namelist())


def test_it_carries_the_models_the_icons_and_the_type_marker(wheel):
    names = set(wheel.namelist())
    shipped = {f"agegender/models/{p.relative_to(ROOT / 'models')}" for p in (ROOT / "models").rglob("*.onnx")}
    assert shipped == {n for n in names if n.startswith("agegender/models/") and n.endswith(".onnx")}
    assert {"agegender/models/mtcnn/pnet.onnx", "agegender/models/multitask.onnx", "agegender/models/gender.onnx",
            "agegender/models/MODEL_CARD.md", "agegender/assets/icon-256.png", "agegender/py.typed"} <= names
    assert wheel.read("agegender/models/multitask.onnx") == (ROOT / "models" / "multitask.onnx").read_bytes()


def test_its_entry_point_is_the_command_line(wheel):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "agegender = agegender.commands.cli:main" in wheel.read(entry_points).decode()


def test_every_install_route_brings_exactly_one_onnx_runtime(tmp_path):
    """onnxruntime and onnxruntime-gpu provide the same module and break each other: no extra may add the
    second one. pip's dry-run report resolves each route as a user's install would."""
    import json
    import tomllib
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert not [extra for extra, deps in extras.items() if any("onnxruntime" in d for d in deps)]
    report = tmp_path / "report.json"
    resolved = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                               "--no-build-isolation", "--quiet", "--report", str(report), f"{ROOT}[dev]"],
                              capture_output=True, text=True, timeout=300)
    if resolved.returncode != 0 and "Could not find a version" in resolved.stderr + resolved.stdout:
        pytest.skip("the package index cannot be reached")
    assert resolved.returncode == 0, resolved.stderr[-2000:]
    names = [item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]]
    assert [name for name in names if name.startswith("onnxruntime")] == ["onnxruntime"]
