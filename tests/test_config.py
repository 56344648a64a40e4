import pytest

from agegender.config import ConfigError, load_settings


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
    ('detect_every = 0\n', "'detect_every'"),
    ('min_face = 5\n', "'min_face'"),
    ('design = "compare\n', "not valid TOML"),
])
def test_bad_settings_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text))


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
