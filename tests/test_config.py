import pytest

from agegender.config import ConfigError, Settings, load_settings
from tests.conftest import ROOT


def write(tmp_path, text):
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    return path


def test_file_then_command_line(tmp_path):
    settings = load_settings(write(tmp_path, 'source = 1\ndesign = "compare"\nkiosk = true\nattract_after_s = 5\n'),
                             {"design": "single", "kiosk": None})
    assert (settings.source, settings.design, settings.kiosk, settings.attract_after_s) == ("1", "single", True, 5.0)


@pytest.mark.parametrize("text, message", [
    ('colour = "red"\n', "unknown setting 'colour'"),
    ('min_face = "big"\n', "'min_face' must be int"),
    ('kiosk = 1\n', "'kiosk' must be bool"),
    ('design = "both"\n', "'design' must be one of"),
    ('thresholds = [0.6, 0.7]\n', "'thresholds'"),
    ('detect_every = -1\n', "'detect_every'"),
    ('min_face = 5\n', "'min_face'"),
    ('design = "compare\n', "not valid TOML"),
])
def test_bad_settings_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text))


def test_the_example_kiosk_file_loads_with_its_keys_checked():
    settings = load_settings(ROOT / "assets" / "kiosk.toml")
    assert settings.kiosk and settings.source == "0" and settings.min_face == 40
    assert settings.kiosk_exit_keys == "Ctrl+Shift+Q" and settings.attract_after_s == 3.0


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize("values, key", [
    ({"min_face": 5}, "'min_face'"),
    ({"thresholds": [0.6, 0.7, 1.5]}, "'thresholds'"),
    ({"max_faces": 0}, "'max_faces'"),
    ({"buckets": "10-5,20+"}, "'buckets'"),
    ({"provider": "tpu"}, "'provider'"),
    ({"watchdog_s": 0}, "'watchdog_s'"),
    ({"detect_every": True}, "'detect_every' must be int"),
])
def test_settings_made_in_code_check_themselves(values, key):
    with pytest.raises(ConfigError, match=key):
        Settings(**values)


def test_a_number_is_taken_for_a_float_and_a_camera_index_for_a_source():
    settings = Settings(source=1, attract_after_s=5)
    assert settings.source == "1" and settings.attract_after_s == 5.0 and isinstance(settings.attract_after_s, float)


def test_the_command_line_defaults_are_the_settings_defaults():
    from agegender.commands.cli import _process_settings, build_parser
    args = build_parser().parse_args(["process", "in.mp4"])
    assert _process_settings(args) == Settings(detect_every=1)  # (process detects on every frame)
    args = build_parser().parse_args(["process", "in.mp4", "--min-face", "40", "--buckets", "decades"])
    assert (_process_settings(args).min_face, _process_settings(args).buckets) == (40, "decades")


def test_the_detector_preset_is_a_setting_and_the_thresholds_apply_to_either():
    from agegender.vision.detect import PRESETS
    assert Settings().detector == "fast" and Settings().detector_settings() == PRESETS["fast"]
    reference = Settings(detector="reference", min_face=40, thresholds=[0.5, 0.6, 0.8]).detector_settings()
    assert reference.seed_score == PRESETS["reference"].seed_score and reference.min_face == 40
    assert reference.thresholds == (0.5, 0.6, 0.8)
    with pytest.raises(ConfigError, match="'detector' must be one of fast, reference"):
        Settings(detector="quick")
