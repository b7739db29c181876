"""CLI: ``temseg rf`` (receptive field and size of a network), ``temseg ensemble``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from temseg.cli import _common
from temseg.errors import ConfigError


def _ints(name: str, text: str | None) -> int | list[int] | None:
    """"8" → 8, "2,4,8" → [2, 4, 8]; a clear error naming the option otherwise."""
    if text is None:
        return None
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"--{name}: expected an integer or a comma list, got {text!r}") from None
    if not values:
        raise ConfigError(f"--{name}: no value given")
    return values[0] if len(values) == 1 else values


def _check_flags(architecture: str, options: dict) -> None:
    """Refuse a flag of another architecture (``rf msdnet --blocks 3``), naming the flags
    this one takes."""
    from temseg.models import model_defaults

    known = model_defaults(architecture)  # an unknown architecture: its own error
    flags = [k for k in options if k not in ("in_channels", "classes")]
    wrong = [k for k in flags if k not in known]
    if wrong:
        def flag(name: str) -> str:
            return "--" + name.replace("_", "-")

        theirs = [flag(k) for k in _RF_OPTIONS if k in known]
        raise ConfigError(f"{', '.join(map(flag, wrong))}: not an option of {architecture} "
                          f"(its options here: {', '.join(theirs)})")


#: the architecture options ``temseg rf`` has flags for
_RF_OPTIONS = ("blocks", "pool", "dilation", "filters", "depth", "features", "variant",
               "kernel_size", "max_dilation", "dilations", "seed")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""

    @app.command("rf")
    def rf(
        architecture: str = typer.Argument(..., help="resunet, unet or msdnet."),
        blocks: str = typer.Option(None, help="resunet: encoder blocks N (default 2; a comma "
                                              "list such as 2,3,4 compares several)."),
        pool: str = typer.Option(None, help="resunet: max-pool kernel k (default 2; list: "
                                            "2,4,8)."),
        dilation: str = typer.Option(None, help="resunet: dilation α of every block (default "
                                                "1; list)."),
        filters: int = typer.Option(None, help="resunet: filters of the first block "
                                               "(default 4)."),
        depth: str = typer.Option(None, help="unet: pooling levels (default 3); msdnet: layers "
                                             "(default 50) (list)."),
        features: int = typer.Option(None, help="unet: features of the first block "
                                                "(default 32)."),
        variant: str = typer.Option(None, help="unet: classic or supplement (default "
                                               "classic)."),
        kernel_size: str = typer.Option(None, help="Convolution kernel side in px (default: "
                                                   "resunet 3, unet 3 classic / 5 supplement, "
                                                   "msdnet 9; list)."),
        max_dilation: str = typer.Option(None, help="msdnet: largest dilation (default 10; "
                                                    "list)."),
        dilations: str = typer.Option(None, help="msdnet: random or repeat (default random)."),
        seed: int = typer.Option(None, help="msdnet: seed of the random dilations (default 0)."),
        in_channels: int = typer.Option(1, help="Input channels."),
        classes: int = typer.Option(2, help="Output classes (1: a single sigmoid foreground "
                                            "logit, as the losses and tiled prediction take; "
                                            "model files and ensembles hold 2 or more)."),
        sampling: float = typer.Option(None, help="Pixel size in Å/px (adds the field in nm)."),
        pixel_size_nm: float = typer.Option(None, help="Pixel size in nm/px."),
    ) -> None:
        """Receptive field (px, and nm given a pixel size) and trainable parameters.

        List values (comma separated) print a table, one row per network.
        """
        from temseg.models.receptive import rf_table

        angstrom = _common.sampling_from_options(sampling, pixel_size_nm)
        options = {"blocks": _ints("blocks", blocks), "pool": _ints("pool", pool),
                   "dilation": _ints("dilation", dilation), "filters": filters,
                   "depth": _ints("depth", depth), "features": features, "variant": variant,
                   "kernel_size": _ints("kernel-size", kernel_size),
                   "max_dilation": _ints("max-dilation", max_dilation),
                   "dilations": dilations, "seed": seed,
                   "in_channels": in_channels, "classes": classes}
        options = {k: v for k, v in options.items() if v is not None}
        if architecture not in ("resunet", "unet", "msdnet"):
            from temseg.errors import ConfigError

            also = (" (an ensemble's field is its widest member's: temseg info MODEL gives it)"
                    if architecture == "ensemble" else "")
            raise ConfigError(f"architecture: {architecture!r} is not one of resunet, unet, "
                              f"msdnet{also}")
        _check_flags(architecture, options)
        rows = rf_table(architecture, sampling=angstrom, **options)
        if len(rows) == 1:
            row = rows[0]
            shown = {k: v for k, v in options.items() if k not in ("in_channels", "classes")}
            desc = " ".join(f"{k}={v}" for k, v in shown.items())
            line = f"{architecture} {desc}".strip() + f": receptive field {row['rf_px']} px"
            if row["rf_nm"] is not None:
                line += f" = {row['rf_nm']:.3g} nm (at {angstrom / 10:g} nm/px)"
            line += f"; {row['parameters']:,} trainable parameters"
            _common.out.print(line, highlight=False)
            if row["rf_bound_px"] != row["rf_px"]:
                _common.out.print(f"(pixels at pooling-cell edges see up to "
                                  f"{row['rf_bound_px']} px)", highlight=False)
            return
        table = Table("architecture", "parameters", "RF px", "RF nm", "max RF px")
        for row in rows:
            desc = ", ".join(f"{k}={v}" for k, v in row["options"].items())
            nm = f"{row['rf_nm']:.3g}" if row["rf_nm"] is not None else "–"
            table.add_row(f"{architecture} {desc}", f"{row['parameters']:,}",
                          str(row["rf_px"]), nm, str(row["rf_bound_px"]))
        _common.show(table)

    @app.command("ensemble")
    def ensemble(
        models: list[Path] = typer.Argument(..., help="Two or more model files (NAME or "
                                            "NAME.json), run folders or shipped names, "
                                            "trained on the same kind of images."),
        output: Path = typer.Option(..., "--out", "-o", "--output",
                                    help="Stem of the ensemble model file to write "
                                         "(OUT.json + OUT.safetensors)."),
        threshold: float = typer.Option(None, help="Decision threshold of the ensemble "
                                        "(default: the first model's)."),
        overwrite: bool = typer.Option(False, "--overwrite",
                                       help="Replace an existing network model file OUT "
                                            "(never one of the MODELS)."),
    ) -> None:
        """Average several trained networks into one model file.

        The ensemble's foreground probability is the mean of its members';
        segment, evaluate and analyze take it like any model. An ensemble among
        MODELS joins network by network: every network weighs the same (an
        ensemble of 2 and one model: 1/3 each, not 1/2 for the ensemble), with
        a warning. The same network given twice (equal weights) is warned about:
        it would count twice.
        """
        from temseg.models import combine_models, load_model
        from temseg.models.receptive import count_parameters, receptive_field

        from temseg.models.locate import model_json
        from temseg.infer.segmenter import describe_channels

        _common.check_output(output, option="--out", kind="file")
        # members as segment takes them: files, stems, run folders or shipped names
        weights, meta = combine_models([model_json(m) for m in models], output,
                                       threshold=threshold, overwrite=overwrite)
        model, config = load_model(meta)
        if threshold is not None and len(config.classes) >= 3:
            _common.warn(f"--threshold {threshold:g} is not used: a {len(config.classes)}-class "
                         "mask holds the most probable class of every pixel")
        # a focal-series species ensemble: what it takes and gives, not a threshold it ignores
        decides = (f"threshold {config.threshold:g}" if len(config.classes) < 3 else
                   f"classes {', '.join(config.classes)} (most probable)")
        takes = (f"; takes {describe_channels(config.in_channels, config.channels)}"
                 if config.in_channels > 1 else "")
        _common.out.print(f"wrote {meta} and {weights.name}: {len(model.members)} networks, "
                          f"{count_parameters(model):,} parameters, receptive field "
                          f"{receptive_field(model)} px, {decides}{takes}",
                          highlight=False)
