"""The CLI's contract: help lists commands, errors are one line with a non-zero exit."""

import subprocess
import sys

import pytest
import typer

from temseg.cli import main as cli_main
from temseg.errors import InputError


def test_help_and_version(capsys):
    assert cli_main.main(["--version"]) == 0
    assert "temseg" in capsys.readouterr().out
    assert cli_main.main(["--help"]) == 0


def test_python_dash_m_runs():
    proc = subprocess.run([sys.executable, "-m", "temseg", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("temseg ")


@pytest.fixture
def failing_command():
    @cli_main.app.command("_fail", hidden=True)
    def _fail(kind: str = "input"):
        if kind == "input":
            raise InputError("foo.tif: not a micrograph [truncated]")
        raise RuntimeError("boom")

    yield
    cli_main.app.registered_commands[:] = [
        c for c in cli_main.app.registered_commands if c.name != "_fail"]


def test_user_error_is_one_line(failing_command, capsys):
    assert cli_main.main(["_fail"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: foo.tif: not a micrograph [truncated]"


def test_internal_error_hides_traceback_unless_debug(failing_command, capsys):
    assert cli_main.main(["_fail", "--kind", "other"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "RuntimeError: boom" in err
    with pytest.raises(RuntimeError):
        cli_main.main(["--debug", "_fail", "--kind", "other"])


def test_usage_error_exits_2(capsys):
    assert cli_main.main(["no-such-command"]) == 2
    assert isinstance(cli_main.app, typer.Typer)


def test_tables_reach_a_file_whole(capsys):
    """Piped into a log, a wide table keeps every name and digit (rich would cut at 80)."""
    from rich.table import Table

    from temseg.cli import _common

    table = Table("image", *(f"score_{i}" for i in range(8)))
    table.add_row("2015_0310_a_long_series_name_layer_0031", *(f"0.{i}123456" for i in range(8)))
    _common.show(table)
    text = capsys.readouterr().out
    assert "2015_0310_a_long_series_name_layer_0031" in text and "0.7123456" in text
    assert "…" not in text
