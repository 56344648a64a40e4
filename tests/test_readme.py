"""The README's set-up commands are the ones CI runs."""
from tests.conftest import ROOT


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    install = next(line for line in ci.splitlines() if line.startswith("python3 -m venv"))
    assert f"{install} && python -m pytest" in readme
    assert "python -m pytest\n" in ci
