"""Learning-curve plot of a training log (PNG, written atomically)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from temseg.io.files import write_figure


def plot_learning_curve(history: Sequence[dict], path: str | Path, *, monitor: str = "f1",
                        title: str | None = None, best_epoch: int | None = None) -> Path:
    """Plot training/validation loss and the validation ``monitor`` score against epoch.

    Parameters
    ----------
    history : sequence of dict
        Rows of ``log.json`` (keys ``epoch``, ``train_loss``, optionally
        ``val_loss`` and ``val_<monitor>``).
    path : path
        PNG file to write.
    monitor : str
        The validation score plotted (``val_<monitor>``) on the right axis.
    title : str, optional
        The plot's title.
    best_epoch : int, optional
        Marked with a vertical line.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

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
        ax.axvline(best_epoch, color="0.5", ls="--", lw=1)
    ax.legend(handles, labels, loc="center right", fontsize="small")
    if title:
        ax.set_title(title)
    return write_figure(fig, path)
