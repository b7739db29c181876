"""Learning-curve plot of a training log (PNG, written atomically)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from temseg.io.files import write_figure


def plain_number(value: float) -> str:
    """``value`` without an exponent, in its shortest form (at most 6 significant digits).

    >>> [plain_number(v) for v in (0.9000000000000001, 1.0, 0.035, 20.0, 0.0001, 0.2875)]
    ['0.9', '1', '0.035', '20', '0.0001', '0.2875']
    """
    return np.format_float_positional(float(value), precision=6, unique=True,
                                      fractional=False, trim="-")


def _plain_log_formatter(*, minor: bool):
    """A log-axis tick formatter that labels the ticks matplotlib would, as plain decimals."""
    from matplotlib.ticker import LogFormatterSciNotation

    class PlainLogFormatter(LogFormatterSciNotation):
        def __call__(self, x, pos=None):
            return plain_number(x) if super().__call__(x, pos) else ""

    return PlainLogFormatter(labelOnlyBase=False) if minor else PlainLogFormatter()


def plot_learning_curve(history: Sequence[dict], path: str | Path, *, monitor: str = "f1",
                        title: str | None = None, best_epoch: int | None = None) -> Path:
    """Plot training/validation loss and the validation ``monitor`` score against epoch.

    The loss axis is logarithmic with plain decimal tick labels (0.5, 0.9, 1), the
    epoch axis has whole-number ticks, and the legend sits above the axes, so it
    covers no curve.

    Parameters
    ----------
    history : sequence of dict
        Rows of ``log.json`` (keys ``epoch``, ``train_loss``, optionally
        ``val_loss`` and ``val_<monitor>``).
    path : path
        PNG file to write (640 × 400 px).
    monitor : str
        The validation score plotted (``val_<monitor>``) on the right axis.
    title : str, optional
        The plot's title.
    best_epoch : int, optional
        Marked with a dashed vertical line, named in the legend ("best epoch N").
    """
    from matplotlib.figure import Figure  # (drawn off-screen: no backend is chosen)
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(6.4, 4.0), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(epochs, [row["train_loss"] for row in history], "-o", ms=3, label="train loss")
    if any("val_loss" in row for row in history):
        ax.plot(epochs, [row.get("val_loss", float("nan")) for row in history], "-o", ms=3,
                label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_plain_log_formatter(minor=False))
    ax.yaxis.set_minor_formatter(_plain_log_formatter(minor=True))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    handles, labels = ax.get_legend_handles_labels()
    key = f"val_{monitor}"
    if any(key in row for row in history):
        ax2 = ax.twinx()
        ax2.plot(epochs, [row.get(key, float("nan")) for row in history], "-s", ms=3,
                 color="tab:green", label=f"validation {monitor}")
        ax2.set_ylabel(monitor)
        ax2.set_ylim(0, 1)
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    if best_epoch is not None:
        handles.append(ax.axvline(best_epoch, color="0.5", ls="--", lw=1, zorder=1))
        labels.append(f"best epoch {best_epoch}")
    if title:
        fig.suptitle(title)
    # above the axes (under the title), in one row: it cannot cover a curve
    ax.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0),
              ncol=len(handles), fontsize="small", frameon=False)
    return write_figure(fig, path)
