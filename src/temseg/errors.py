"""Exception types of temseg.

Every error a user can cause derives from :class:`TemsegError`. The CLI
prints such an error as one line and exits non-zero; ``--debug`` shows the
traceback. Messages name the file or field and the problem.
"""


class TemsegError(Exception):
    """Base class of the errors temseg raises for bad input or configuration."""


class InputError(TemsegError, ValueError):
    """A file or array the user gave cannot be used (missing, corrupt, wrong shape...)."""


class BlankImageError(InputError):
    """An image without any contrast (constant), e.g. a frame taken with the beam blanked."""


class ConfigError(TemsegError, ValueError):
    """A configuration value is invalid; the message names the field."""


class ModelFileError(TemsegError, ValueError):
    """A model file is missing, corrupt, tampered with or does not fit its config."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler's time limit, ``kill``) while the CLI runs, met as Ctrl-C
    is: temporary files removed, a training's last whole epoch kept to resume from."""


def format_frames(frames, *, limit: int = 8) -> str:
    """``"2, 5 and 3 more"``: frame indices for a message, the first ``limit`` of them."""
    frames = list(frames)
    shown = ", ".join(map(str, frames[:limit]))
    more = len(frames) - limit
    return f"{shown} and {more} more" if more > 0 else shown
