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


def test_help_reflows_paragraphs_and_shows_no_value_for_flags(capsys, monkeypatch):
    # typer 0.2x kept the docstring's own line breaks (ragged lines) and printed <bool>
    # beside flags, as if they took a value
    monkeypatch.setenv("COLUMNS", "400")
    assert cli_main.main(["segment", "--help"]) == 0
    out = capsys.readouterr().out
    assert "<bool>" not in out
    # these words stand on two lines of segment's docstring
    assert "NAME_overlay.png (first frame of a stack that is not blank" in out
    assert cli_main.main(["train", "--help"]) == 0
    assert "<bool>" not in capsys.readouterr().out


def test_python_dash_m_runs():
    proc = subprocess.run([sys.executable, "-m", "temseg", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("temseg ")


@pytest.fixture
def failing_command():
    @cli_main.app.command("_fail", hidden=True)
    def _fail(kind: str = "input"):
        if kind in ("warn", "warn-twice"):
            import warnings

            for _ in range(2 if kind == "warn-twice" else 1):  # a file read twice
                warnings.warn("b.tif: 3 samples/pixel (RGB) converted to grey", stacklevel=1)
            return
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
    with pytest.raises(RuntimeError):  # where users put it: after the command
        cli_main.main(["_fail", "--kind", "other", "--debug"])


def test_library_warnings_print_as_one_line(failing_command, capsys):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("default")  # as outside pytest, where warnings are not errors
        assert cli_main.main(["_fail", "--kind", "warn"]) == 0
    err = capsys.readouterr().err.strip()
    assert err == "warning: b.tif: 3 samples/pixel (RGB) converted to grey"
    # the same text twice in one run is said once; the next run says it again
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert cli_main.main(["_fail", "--kind", "warn-twice"]) == 0
        assert cli_main.main(["_fail", "--kind", "warn"]) == 0
    assert capsys.readouterr().err.strip().splitlines() == [
        "warning: b.tif: 3 samples/pixel (RGB) converted to grey"] * 2


def test_usage_error_exits_2(capsys):
    assert cli_main.main(["no-such-command"]) == 2
    assert isinstance(cli_main.app, typer.Typer)


@pytest.mark.parametrize("argv, said", [
    (["no-such-command"], "error: No such command 'no-such-command'. (see `temseg --help`)"),
    (["segment", "--tile", "abc", "x.tif", "-o", "o"],
     "error: Invalid value for '--tile': Input should be a valid integer, unable to parse "
     "string as an integer (see `temseg segment --help`)"),
    (["info", "x.tif", "--bogus"], "error: No such option: --bogus (see `temseg info --help`)"),
])
def test_a_usage_error_is_one_line(argv, said, capsys):
    """A mistyped option or command: one line and 2, as any other bad input (it was a boxed
    panel of five lines)."""
    assert cli_main.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == said and captured.out == ""


def test_no_arguments_show_the_help(capsys):
    assert cli_main.main([]) == 2
    captured = capsys.readouterr()
    assert "Usage: temseg" in captured.out + captured.err and "error" not in captured.err


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


@pytest.mark.parametrize("argv", [
    ["evaluate", "MODEL", "DATA", "-o", "AFILE/x"],
    ["evaluate", "MODEL", "DATA", "-o", "AFILE"],
    ["baseline", "fit", "DATA", "-o", "AFILE/x.json"],
    ["baseline", "fit", "DATA", "-o", "FOLDER"],
    ["baseline", "apply", "MODEL", "DATA", "-o", "AFILE/x"],
    ["ensemble", "MODEL", "MODEL", "-o", "AFILE/e"],
    ["train", "DATA", "-o", "AFILE/run"],
    ["demo", "-o", "AFILE/x"],
    ["segment", "MODEL", "DATA", "-o", "AFILE/sub"],
    ["simulate", "CONFIG", "-o", "AFILE/x.zarr"],
])
def test_an_output_that_cannot_be_written_fails_before_work(tmp_path, capsys, argv):
    """Not after minutes of work with a NotADirectoryError: one line, exit 2, nothing run."""
    afile = tmp_path / "afile"
    afile.write_text("notes")
    (tmp_path / "folder").mkdir()
    subst = {"AFILE": str(afile), "FOLDER": str(tmp_path / "folder"),
             "MODEL": str(tmp_path / "never_read.json"), "DATA": str(tmp_path / "no_data"),
             "CONFIG": str(tmp_path / "never_read.yaml")}
    argv = [subst.get(a, a.replace("AFILE", str(afile))) for a in argv]
    assert cli_main.main(argv) == 2
    err = capsys.readouterr().err
    assert ("which is a file" in err or "is a folder" in err or "is not a folder" in err), err
    assert "Traceback" not in err and afile.read_text() == "notes"
