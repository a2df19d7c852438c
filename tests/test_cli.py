import subprocess
import sys
from pathlib import Path

import pytest

from jobs.cli import app

COMMANDS = ["download", "train", "predict", "score", "submit", "run"]


def test_top_level_help_lists_every_command(runner):
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(runner, command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_help_does_not_import_torch():
    code = ("import sys\nfrom jobs.cli import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'pandas', 'kaggle', 'pyarrow', 'sklearn', 'matplotlib') if m in sys.modules]\n"
            "print('HEAVY=' + ','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY=\n" in out or out.rstrip().endswith("HEAVY="), out


def test_bad_log_format_is_one_line(runner):
    result = runner.invoke(app, ["download", "--demo", "--log-format", "xml"])
    assert result.exit_code == 2
    assert "--log-format" in result.output
    assert "Traceback" not in result.output


def test_unknown_precision_is_one_line_before_any_data_is_read(runner, tmp_path):
    missing = tmp_path / "nowhere"  # a data folder that does not exist: the option must be refused first
    result = runner.invoke(app, ["train", "--demo", "--data-dir", str(missing), "--precision", "fp16",
                                 "--home", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "--precision: expected one of auto, fp32, bf16, got 'fp16'" in result.output
    assert "Traceback" not in result.output


def test_the_readme_exit_table_is_exit_code_in_code():
    import re

    from core.base.errors import ExitCode

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    codes = {int(code) for code in re.findall(r"^\| (\d+) \|", table, flags=re.M)}
    assert codes - {124, 137} == {int(code) for code in ExitCode}  # 124, 137: the cron wrapper's own
