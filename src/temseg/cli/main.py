"""Entry point of ``temseg`` and ``python -m temseg``.

Commands live in their own modules, each with a ``register(app)`` function,
grouped as users think: inspect (info, rf), simulate, train/evaluate/segment,
baselines, analyze, demo. Errors become one line and a non-zero exit;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import inspect
import signal
import sys
import threading
import warnings

import typer

from temseg import __version__
from rich.markup import escape

from temseg.cli import _common
from temseg.errors import TemsegError, Terminated

app = typer.Typer(
    name="temseg",
    help="Neural-network segmentation of (HR)TEM images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        _common.out.print(f"temseg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Neural-network segmentation of (HR)TEM images."""


def _register() -> None:
    from temseg.cli import (analyze, baseline, compare, demo, evaluate, info, models, segment,
                            simulate, train)

    for module in (demo, info, models, simulate, train, evaluate, segment, baseline, analyze,
                   compare):
        module.register(app)


_register()


def _tidy_help(command) -> None:
    """Help as people read it, for ``command`` and its subcommands: each paragraph of a
    docstring reflowed to the terminal (typer 0.2x keeps the source's line breaks, which
    left ragged lines), and no ``<bool>`` beside a plain flag (it takes no value)."""
    if command.help:
        paragraphs = inspect.cleandoc(command.help).split("\n\n")
        command.help = "\n\n".join(" ".join(line.strip() for line in p.splitlines())
                                     for p in paragraphs)
    for param in command.params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    help_option = command.get_help_option  # --help is made on demand, outside .params

    def get_help_option(ctx):
        option = help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        _tidy_help(sub)


_SHOWN: set[str] = set()  # warnings printed in this run of main(): each text once


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a Python warning as the CLI's one-line ``warning: ...``, each text once (a file
    checked before the work and read again for it warned twice of its RGB)."""
    text = str(message)
    if text not in _SHOWN:
        _SHOWN.add(text)
        _common.warn(escape(text))


_TERMINATED: list[int] = []  # SIGTERM met during this process's run of main()


def _terminate(signum, frame) -> None:
    _TERMINATED.append(signum)
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Within: SIGTERM raises :class:`Terminated` (main thread only; the old handler after).

    Click turns it, like any KeyboardInterrupt, into an exit of status 130; ``main`` tells
    the two apart by :data:`_TERMINATED`.
    """
    _TERMINATED.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _usage_errors() -> tuple[type, ...]:
    """The exception types of a usage error: typer's own (it carries click inside since
    0.2x) and, where click is installed beside it, click's."""
    types = [t for t in (getattr(typer, "TyperException", None),) if t is not None]
    try:
        import click

        types.append(click.ClickException)
    except ImportError:
        pass
    return tuple(types)


_USAGE_ERRORS = _usage_errors()


def _exit_code(code: int) -> int:
    """The status of a command that ended with ``code``: 143 once SIGTERM was met, and a
    Ctrl-C (130) said in a word unless the command said more itself (train)."""
    if _TERMINATED and code != 0:
        if not _common.STOP_SAID:
            _common.err.print("terminated")
        return 143
    if code == 130 and not _common.STOP_SAID:
        _common.err.print("interrupted")
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 1 internal error, 2 bad input/usage,
    130 interrupted by Ctrl-C, 143 terminated by SIGTERM)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:  # accepted anywhere, as users type it: `temseg info --debug f.tif`
        argv = ["--debug"] + [a for a in argv if a != "--debug"]
    _SHOWN.clear()
    _common.STOP_SAID.clear()
    try:
        with warnings.catch_warnings(), _sigterm_as_interrupt():
            warnings.showwarning = _show_warning  # library warnings as one line
            # (not standalone: usage errors come here, to be said in one line)
            command = typer.main.get_command(app)
            _tidy_help(command)
            code = command(args=argv, prog_name="temseg", standalone_mode=False)
        return _exit_code(code if isinstance(code, int) and not isinstance(code, bool) else 0)
    except SystemExit as exc:
        code = exc.code
        return _exit_code(code if isinstance(code, int) else (0 if code is None else 1))
    except typer.Abort as exc:  # click's form of a Ctrl-C (or of SIGTERM, see above)
        if not isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            _common.err.print("[bold red]error:[/] the input ended early (EOF)", highlight=False)
            return 1
        return _exit_code(130)
    except _USAGE_ERRORS as exc:  # usage: a mistyped option or command, in one line
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if message:  # (no arguments at all: the help was shown, nothing to add)
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "temseg"
            _common.err.print(f"[bold red]error:[/] {escape(message)} (see "
                              f"`{escape(where)} --help`)", highlight=False)
        return int(getattr(exc, "exit_code", 2))
    except Terminated:
        _common.err.print("terminated")
        return 143
    except KeyboardInterrupt:
        _common.err.print("interrupted")
        return 130
    except TemsegError as exc:
        if debug:
            raise
        _common.err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except Exception as exc:  # noqa: BLE001 - last line of defence for users
        if debug:
            raise
        _common.err.print(
            f"[bold red]error:[/] {type(exc).__name__}: {escape(str(exc))} "
            "(run with --debug for the traceback)",
            highlight=False)
        return 1
    return 0
