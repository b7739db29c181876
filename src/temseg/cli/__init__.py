"""The ``temseg`` command line: thin typer commands over the library."""
