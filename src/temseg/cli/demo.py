"""CLI command: ``temseg demo`` — simulate, segment with the default model, measure, score.

Thin: the work is :func:`temseg.analyze.demo.run_demo`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from temseg.cli import _common


def demo_command(
    out: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Output folder."),
    seed: int = typer.Option(2024, help="Simulation seed (the default model was trained, "
                                        "validated and tested on seeds 1000-1003)."),
    dose: float = typer.Option(1000.0, help="Electron dose of the micrograph in e/Å²."),
    size: Optional[int] = typer.Option(None, help="Image side in pixels (default: the "
                                                  "model's training size, 256)."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Simulation YAML whose fields override the model's recorded "
                               "training simulation (seed, mode and counts are the demo's)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m",
                                         help="Model to use instead of the shipped default."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
) -> None:
    """Simulate a fresh Au/CeO2 micrograph with a known label, segment it, and score it.

    Writes OUT/image.tif (with the pixel size), label.png, mask.png,
    probability.tif, overlay.png, particles.csv (per particle: area and
    equivalent diameter in nm, lattice spacing in Å and Fourier peak ratio
    from its own power spectrum), scores.json and record.json; prints the F1
    against the known label. Offline; about half a minute on a laptop CPU.
    """
    import time

    from temseg.analyze.demo import model_demo_config, run_demo
    from temseg.config import read_yaml
    from temseg.infer import load_segmenter
    from temseg.models.default import default_model_path
    from temseg.record import write_record

    _common.check_output(out)
    overrides = read_yaml(config) if config is not None else {}
    if size is not None:
        overrides["size"] = size
    model_path = model if model is not None else default_model_path()
    t0 = time.perf_counter()
    segmenter = load_segmenter(model_path, tile=512, device=device, warn=_common.warn)
    sim = model_demo_config(segmenter, seed=seed, dose=dose, overrides=overrides or None)
    stages = {"simulate": "simulating a micrograph (abTEM)", "segment": "segmenting",
              "write": "writing results"}
    with _common.progress() as bar:
        task = bar.add_task("demo", total=len(stages))

        def step(stage: str) -> None:
            if bar.tasks[task].description != "demo":
                bar.advance(task)
            bar.update(task, description=stages[stage])

        result = run_demo(out, segmenter=segmenter, config=sim, callback=step)
        bar.update(task, completed=len(stages))
    seconds = time.perf_counter() - t0
    from temseg.config import to_dict

    write_record(out, seed=seed, config=to_dict(result.config), model=str(model_path),
                 segmenter=segmenter.describe(), scores=result.scores,
                 n_particles=len(result.particles), seconds=seconds)
    from temseg.analyze.dose import plain_dose

    s = result.scores
    p = result.parameters
    _common.out.print(
        f"simulated {result.image.shape[0]}×{result.image.shape[1]} px at "
        f"{result.sampling:g} Å/px, dose {plain_dose(p['dose'])} e/Å², Au particle of radius "
        f"{p['radius'] / 10:.2f} nm (seed {seed})", highlight=False)
    from temseg.simulate.structures import lattice_constant

    element = result.config.structure.element
    d111 = lattice_constant(element) / 3 ** 0.5
    for row in result.particles:
        d = row["equivalent_diameter_nm"]
        lattice = "" if row.get("spacing_A") is None else (
            f", lattice spacing {row['spacing_A']:.3f} Å ({element} {{111}}: "
            f"{d111:.3f} Å)" + ("" if row.get("peak_ratio") is None
                                 else f", Fourier peak ratio {row['peak_ratio']:.2f}"))
        _common.out.print(f"particle {row['label']}: area {row['area_nm2']:.2f} nm², "
                          f"equivalent diameter {d:.2f} nm{lattice}", highlight=False)
    _common.out.print(f"{len(result.particles)} particle(s) found; against the known label: "
                      f"F1 = {s['f1']:.3f}, Jaccard = {s['jaccard']:.3f} "
                      f"({seconds:.0f} s)", highlight=False)
    names = sorted(Path(f).name for f in result.files.values()) + ["record.json"]
    _common.out.print(f"wrote {', '.join(names[:-1])} and {names[-1]} to {out}",
                      highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("demo")(demo_command)
