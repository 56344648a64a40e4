"""Where .ci/run asks for the full suite, a test skipped for want of ../shared or the train extra fails."""
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PROBE = '''
from pathlib import Path
import pytest
from tests.conftest import need

def test_wants_the_data():
    need(Path("/nowhere/shared/media/clip.mp4"))

def test_skips_for_another_reason():
    pytest.skip("PyInstaller is not installed")
'''


@pytest.mark.parametrize("full_suite", [False, True])
def test_a_missing_tier_skips_only_where_the_full_suite_is_not_asked_for(tmp_path, full_suite):
    (tmp_path / "conftest.py").write_text("from tests.conftest import *  # noqa: F401,F403\n")
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AGEGENDER_FULL_SUITE": "1" if full_suite else ""}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    if full_suite:
        assert run.returncode == 1 and "1 failed, 1 skipped" in run.stdout, run.stdout[-1500:]
        assert "full suite is required" in run.stdout
    else:
        assert run.returncode == 0 and "2 skipped" in run.stdout, run.stdout[-1500:]
