"""The command line's help says what each command and option does, and the same thing everywhere."""
import pytest

from agegender.commands.cli import build_parser


def help_of(*command: str) -> str:
    parser = build_parser()
    if command:
        parser = parser._subparsers._group_actions[0].choices[command[0]]
    return " ".join(parser.format_help().split())


def test_bench_describes_itself_and_its_options():
    text = help_of("bench")
    assert "facenet-pytorch" in text and "--models MODELS folder with multitask.onnx" in text


def test_the_window_takes_csv_results_and_the_former_design_name_as_process_does():
    assert ".csv" in help_of().split("--results RESULTS")[-1].split("--")[0]
    for args in (["--design", "both"], ["process", "x.jpg", "--design", "both"]):
        assert build_parser().parse_args(args).design == "both"


@pytest.mark.parametrize("command", [(), ("process",)])
def test_precision_help_names_no_runtime_the_backend_did_not_choose(command):
    text = help_of(*command)
    assert "INT8 on ONNX Runtime" not in text and "--backend chose" in text


def test_the_cluster_install_line_is_the_one_docs_give():
    from agegender.archive.engines import RAY_INSTALL
    from tests.conftest import ROOT
    assert "agegender-live[cluster]" not in help_of("process")
    assert 'pip install -e ".[cluster]"' in RAY_INSTALL
    for doc in ("README.md", "docs/archive.md"):
        assert 'pip install -e ".[cluster]"' in (ROOT / doc).read_text()


def test_the_docs_list_the_settings_process_reads_from_its_config_file():
    from agegender.commands.cli import FILE_SETTINGS
    from tests.conftest import ROOT
    row = next(line for line in (ROOT / "docs" / "command-line.md").read_text().splitlines()
               if line.startswith("| `process --config` |"))
    listed = row.split("|")[2].split(" apply")[0].replace(" and ", ", ").split(", ")
    assert sorted(word.strip() for word in listed) == sorted(FILE_SETTINGS)


def test_buckets_help_marks_the_default_scheme_not_an_example():
    assert "'0-9,10-19,...,70+' (default)" not in help_of("process")
