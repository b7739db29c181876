"""The ``temseg`` command line: thin typer commands over the library."""


def run() -> int:
    """The ``temseg`` console script and ``python -m temseg``: :func:`temseg.cli.main.main`.

    Two things happen here rather than in ``main``: a Ctrl-C while the commands are still
    being imported (torch and the rest take a second or two) ends as any other, with
    "interrupted" and exit 130, not a traceback; and an interrupted or terminated run
    (130, 143) exits at once once its own clean-up is done, without waiting for the
    worker threads of the libraries it used (a zarr or thread-pool worker left waiting
    kept the process alive after Ctrl-C).
    """
    import os
    import sys

    try:
        from temseg.cli.main import main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    code = main()
    if code in (130, 143):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
