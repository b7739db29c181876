"""What ``temseg segment`` writes beside its masks: particle and column tables, their plots,
and the column events of a stack of focal series (each built from :mod:`temseg.analyze`)."""

from __future__ import annotations

from pathlib import Path

def _particle_measurer(rows: list[dict], sampling: float | None, min_area_px: int,
                       fourier: bool, first: dict, *, frames_per_series: int = 1,
                       frame_interval_s: float | None = None,
                       dose_rate: float | None = None, tracker=None,
                       events: list[dict] | None = None):
    """An ``on_mask`` callback that appends each frame's particles to ``rows`` (for a
    focal-series model each series', keyed ``series`` and ``first_frame``); with the seconds
    between frames each row gets ``time_s`` (the frame's start, from the first frame's), and
    with a dose rate (e/Å²/s) ``dose_e_per_A2``, the dose received by the frame's end. With
    a :class:`~temseg.analyze.tracking.ParticleTracker` each row gets its ``track`` and the
    events go to ``events``, timed by their own frame (a vanishing is decided up to the
    tracker's ``max_gap`` frames late); the callback's ``finish()`` adds those of particles
    still missing at the end."""
    from temseg.analyze.particles import label_particles, particle_table

    def timing(index: int) -> dict:
        start = index * frames_per_series  # the item's first frame
        if not frame_interval_s:
            return {}
        if not dose_rate:
            return {"time_s": start * frame_interval_s}
        return {"time_s": start * frame_interval_s,
                "dose_e_per_A2": dose_rate * frame_interval_s * (start + frames_per_series)}

    def timed(event: dict) -> dict:
        return {"frame": event["frame"], **timing(int(event["frame"])), **event}

    def measure(index: int, mask, image) -> None:
        if fourier and not first:
            first.update(image=image, mask=mask, frame=index)
        where = ({"frame": index} if frames_per_series == 1 else
                 {"series": index, "first_frame": index * frames_per_series})
        where.update(timing(index))
        found = [{**where, **row}
                 for row in particle_table(mask, sampling=sampling, min_area_px=min_area_px,
                                           image=image if fourier else None)]
        if tracker is not None:
            events.extend(timed(event) for event in tracker.update(
                index, label_particles(mask, min_area_px=min_area_px), found))
        rows.extend(found)

    def finish() -> None:
        if tracker is not None:
            events.extend(timed(event) for event in tracker.finish())
            events.sort(key=lambda e: (int(e["frame"]), int(e["track"])))

    measure.finish = finish
    return measure


def _column_counter(counts: list[dict], segmenter, sampling: float | None, min_column_px: int,
                    then=None, *, events: list[dict] | None = None,
                    column_distance: float | None = None, warn=None):
    """An ``on_mask`` callback that appends each series' column counts (and, under
    ``"positions"``, :func:`~temseg.analyze.columns.column_positions`) to ``counts``, and
    hands the foreground to ``then``, the particle measurer, when given.

    With ``events`` and a pixel size, each series' columns are also paired with the last
    segmented series' (drift by phase correlation of the two class maps, centres at
    most ``column_distance`` Å apart): one :func:`~temseg.analyze.column_events.transition_row`
    per pair of series, with the drift in nm and summed from the first series followed; a
    series without columns is passed over; ``warn`` hears of a drift of a quarter of the
    field or more (a lattice repeats: it may be a wrong one)."""
    import numpy as np

    from temseg.analyze.columns import column_positions, count_row, series_drift
    from temseg.analyze.column_events import column_transitions, event_places, transition_row

    last: dict = {}
    since_first = [0.0, 0.0]  # (dy, dx) px from the first series followed
    track = events is not None and sampling is not None and column_distance is not None

    def count(index: int, mask, image) -> None:
        # every column's place, compact (a float array per series) for long stacks; the
        # counts come from the same labelling
        positions = column_positions(mask, classes=segmenter.classes, min_area_px=min_column_px)
        row = count_row(index, mask, classes=segmenter.classes, sampling=sampling,
                        min_area_px=min_column_px, frames_per_series=segmenter.in_channels,
                        positions=positions)
        row["positions"] = positions
        counts.append(row)
        if track and len(positions):  # a series without columns has nothing to pair
            if last:
                # from the class maps, not the images: a change of contrast (defocus,
                # dose) moved the images' correlation peak by up to 170 px in
                # benchmarks/focal_events.py, the class maps' by 0.14 px at most
                drift = series_drift(last["mask"], mask)
                found = column_transitions(last["positions"], positions,
                                           n_classes=len(segmenter.classes), drift=drift,
                                           max_distance_px=column_distance / sampling,
                                           shape=np.shape(image))
                since_first[0] += drift[0]
                since_first[1] += drift[1]
                events.append(transition_row(last["index"], index, drift, found,
                                             classes=segmenter.classes, sampling=sampling,
                                             since_first=tuple(since_first)))
                events[-1]["places"] = event_places(  # (NAME_column_events.csv; popped)
                    last["index"], index, last["positions"], positions, found,
                    classes=segmenter.classes, sampling=sampling)
                if warn is not None and np.hypot(*drift) > 0.25 * min(np.shape(mask)):
                    # a lattice repeats: a large drift may have paired columns with neighbours
                    unit = "series" if segmenter.in_channels > 1 else "frame"
                    warn(f"{unit} {last['index']} → {index}: a drift of "
                         f"{np.hypot(*drift):.0f} px, a quarter of the field or more; check "
                         "drift_y_px, drift_x_px in NAME_events.csv")
            last.update(index=index, mask=mask, positions=positions)
        if then is not None:
            then(index, mask > 0, image)
    return count


def _write_events(out: Path, name: str, events: list[dict]) -> dict:
    """NAME_events.csv (a row per pair of consecutive segmented series), NAME_column_events.csv
    (a row per column that changed class, appeared or vanished, placed in the image and named
    by its ids in NAME_columns.csv) and, for the record, each change summed over the stack."""
    from temseg.analyze.column_events import EVENT_PLACE_FIELDS
    from temseg.train.scoring import write_table

    places = [place for e in events for place in e.pop("places", [])]
    path = out / f"{name}_events.csv"
    write_table(path, events)
    header = list(EVENT_PLACE_FIELDS)  # (events need a pixel size: x_nm, y_nm are there)
    if "from_name" in events[0]:  # --series-files: each series' NAME beside its index
        header[2:2] = ["from_name", "to_name"]
    places_path = write_table(out / f"{name}_column_events.csv", places, fields=header)
    keys = [k for k in events[0] if k not in ("from_series", "to_series", "from_name", "to_name")
            and not k.startswith(("drift_", "cum_drift_"))]
    return {"csv": str(path), "columns_csv": str(places_path),
            "totals": {k: int(sum(e[k] for e in events)) for k in keys}}


def _write_counts(out: Path, name: str, counts: list[dict], plan: dict, segmenter,
                  blank: list, unit: str, *, warn=None, names: list[str] | None = None) -> dict:
    """NAME_counts.csv (a row per series, blank ones too), NAME_columns.csv (every column's
    class, centre, area and whether the image edge cuts it) and, for more than one series,
    NAME_counts.png; the summary for the record. ``names``, one per series, adds a ``name``
    column to NAME_counts.csv (the series of ``--series-files``).

    Regions too large to be one column (:func:`~temseg.analyze.columns.oversized_columns`)
    are still counted; ``warn`` (by default a warning naming the input) hears of them once
    for the input, and the record keeps them under ``oversized``."""
    from temseg.analyze.columns import (count_row, counts_summary, oversized_summary,
                                        plot_counts, write_counts_csv, write_positions_csv)

    sampling = plan["sampling"]
    positions = [(row["series"], row.pop("positions")) for row in counts]
    oversized = oversized_summary([table for _, table in positions], sampling=sampling)
    if oversized is not None:
        if warn is None:
            from temseg.cli import _common

            def warn(message: str) -> None:
                _common.warn(f"{plan['path'].name}: {message}")

        largest = (f"{oversized['largest_nm2']:.2f} nm²" if sampling is not None
                   else f"{oversized['largest_px']} px")
        where = "frame(s)" if unit == "frame" else "focal series"
        warn(f"{oversized['regions']} region(s) in {oversized['series']} {where} too large "
             f"for one atomic column ({oversized['rule']}; largest {largest}), each counted "
             "as one column in NAME_counts.csv: an undertrained model or merged columns?")
    columns_path = write_positions_csv(out / f"{name}_columns.csv", positions,
                                       classes=segmenter.classes, sampling=sampling)
    rows = sorted(counts + [count_row(i, None, classes=segmenter.classes, sampling=sampling,
                                      frames_per_series=segmenter.in_channels) for i in blank],
                  key=lambda r: r["series"])
    if names is not None:  # series of separate files: no frame of one stack to point to
        rows = [{**row, "first_frame": None, "name": names[row["series"]]} for row in rows]
    csv_path = write_counts_csv(out / f"{name}_counts.csv", rows, classes=segmenter.classes,
                                sampling=sampling, extra=("name",) if names is not None else ())
    entry = {"csv": str(csv_path), "columns_csv": str(columns_path),
             "per_class": counts_summary(rows, classes=segmenter.classes)}
    if oversized is not None:
        entry["oversized"] = oversized
    if len(rows) > 1:
        entry["plot"] = str(plot_counts(out / f"{name}_counts.png", rows,
                                        classes=segmenter.classes,
                                        title=f"{plan['path'].name}: columns per {unit}",
                                        unit="frame" if unit == "frame" else "focal series",
                                        names=names))
    return entry


def _write_particles(out: Path, name: str, rows: list[dict], plan: dict, blank: list,
                     first: dict, min_area_px: int, unit: str = "frame", *,
                     interval_s: float | None = None, tracker=None,
                     events: list[dict] | None = None) -> dict:
    """NAME_particles.csv and .png (and NAME_fourier.png); the summary for the record.

    ``unit`` is "series" for a focal-series model: rows, CSV, plot and record then
    count focal series (``series``, ``first_frame``; ``particles_per_series``...).
    ``interval_s``: seconds from one frame (or series) to the next, for the plot's time axis.
    With the ``tracker`` that followed a stack's particles (and its ``events``) also
    NAME_tracks.csv, NAME_particle_events.csv and NAME_tracks.png.
    """
    import numpy as np

    from temseg.analyze.particles import (frame_peak_ratios, label_particles, particle_summary,
                                          plot_fourier_map, plot_particles, write_particle_csv)

    n_frames = plan["frames"] if plan["stack"] else None
    csv_path = write_particle_csv(out / f"{name}_particles.csv", rows, frames=plan["stack"],
                                  unit=unit)
    png_path = plot_particles(out / f"{name}_particles.png", rows, n_frames=n_frames,
                              title=plan["path"].name, blank_frames=blank, unit=unit,
                              sampling=plan["sampling"], interval_s=interval_s)
    segmented = None if n_frames is None else n_frames - len(blank)
    extra = {}
    if first:
        shown = [r for r in rows if r[unit] == first["frame"]]
        where = f", {unit} {first['frame']}" if plan["stack"] else ""
        extra["fourier_map"] = str(plot_fourier_map(
            out / f"{name}_fourier.png", first["image"],
            label_particles(first["mask"], min_area_px=min_area_px), shown,
            title=f"{plan['path'].name}{where}: Fourier peak ratio per particle",
            sampling=plan["sampling"]))
        ratios = [r["peak_ratio"] for r in rows if r.get("peak_ratio") is not None]
        extra["peak_ratio_median"] = float(np.median(ratios)) if ratios else None
        if plan["stack"]:  # 003 keeps the frames whose particles sit on a zone axis (low ratio)
            extra[f"{unit}_peak_ratio"] = [None if np.isnan(v) else float(v)
                                           for v in frame_peak_ratios(rows, n_frames,
                                                                      unit=unit)]
    if tracker is not None:
        extra["tracks"] = _write_tracks(out, name, rows, plan, blank, tracker, events,
                                        interval_s)
    return {**particle_summary(rows, n_frames=segmented, unit=unit, sampling=plan["sampling"]),
            **extra,
            "min_area_px": min_area_px, "csv": str(csv_path), "plot": str(png_path)}


def _write_tracks(out: Path, name: str, rows: list[dict], plan: dict, blank: list, tracker,
                  events: list[dict], interval_s: float | None) -> dict:
    """NAME_tracks.csv, NAME_particle_events.csv and NAME_tracks.png of a stack's particles
    followed from frame to frame; the summary for the record."""
    from collections import Counter

    from temseg.analyze.tracking import plot_tracks, write_events_csv, write_tracks_csv

    tracks = tracker.tracks_table()
    if interval_s:
        for track in tracks:
            track["first_time_s"] = track["first_frame"] * interval_s
            track["last_time_s"] = track["last_frame"] * interval_s
    from temseg.analyze.particles import TIMING

    timing = tuple(k for k in TIMING if rows and k in rows[0])
    tracks_csv = write_tracks_csv(out / f"{name}_tracks.csv", tracks,
                                  timing=("first_time_s", "last_time_s") if interval_s else ())
    events_csv = write_events_csv(out / f"{name}_particle_events.csv", events,
                                  timing=timing if rows else None)
    png = plot_tracks(out / f"{name}_tracks.png", rows, tracks, n_frames=plan["frames"],
                      title=f"{plan['path'].name}: particles followed", sampling=plan["sampling"],
                      blank_frames=blank, interval_s=interval_s)
    return {"n_tracks": len(tracks), "events": dict(Counter(e["event"] for e in events)),
            "drift_px": [list(d) for d in tracker.drifts], "csv": str(tracks_csv),
            "events_csv": str(events_csv), "plot": str(png)}


def _series_together(plans: list[dict], names: list[str], segmenter, *, min_column_px,
                     column_distance: float | None, warn) -> dict | None:
    """``--series-files`` with several series of a ≥ 3-class model: the series followed as
    one stack of series (as a stack's NAME_counts.csv, NAME_events.csv, NAME_counts.png),
    under a prefix no series' NAME takes (``series``). None, with a warning, when the
    series differ in size or pixel size (their columns cannot be paired).

    ``measure(series, then)`` wraps a series' ``on_mask`` callback to count it as series
    ``series`` too; ``blank`` takes the series skipped as blank."""
    from temseg.analyze.columns import speck_px

    samplings = [p["sampling"] for p in plans]
    differ = (len({tuple(p["shape"]) for p in plans}) > 1
              or (None in samplings and any(samplings))
              or (all(samplings) and max(samplings) > 1.01 * min(samplings)))
    if differ:
        warn("--series-files: the series differ in size or pixel size; their columns are "
             "not followed from series to series")
        return None
    prefix = "series"
    taken = {name.lower() for name in names}  # (case-blind file systems)
    while prefix in taken:
        prefix += "_all"
    sampling = plans[0]["sampling"]
    speck = speck_px(min_column_px, sampling=sampling,
                     model_sampling=getattr(segmenter, "sampling", None))
    counts: list[dict] = []
    events: list[dict] = []
    counter = _column_counter(
        counts, segmenter, sampling, speck, events=events, column_distance=column_distance,
        warn=lambda m: warn(f"{prefix}: " + m.replace("NAME_events", f"{prefix}_events")))

    def measure(series: int, then):
        def both(index: int, mask, image) -> None:
            then(index, mask, image)
            counter(series, mask, image)
        return both

    return {"prefix": prefix, "names": names, "sampling": sampling, "speck": speck,
            "counts": counts, "events": events, "blank": [], "measure": measure,
            "path": plans[0]["path"]}


def _write_series(out: Path, together: dict, segmenter, *, warn) -> dict:
    """PREFIX_counts.csv (a row per series, with its NAME), PREFIX_columns.csv,
    PREFIX_counts.png and PREFIX_events.csv of :func:`_series_together`; for the record."""
    prefix, names = together["prefix"], together["names"]
    def named(row: dict) -> dict:  # each series' NAME beside its index
        return {"from_series": row["from_series"], "to_series": row["to_series"],
                "from_name": names[row["from_series"]], "to_name": names[row["to_series"]],
                **row}

    together["events"][:] = [{**named(e), "places": [named(p) for p in e.get("places", [])]}
                             for e in together["events"]]
    plan = {"sampling": together["sampling"],
            "path": Path(f"{names[0]} … {names[-1]}")}  # the plot's title
    entry = {"names": names,
             "counts": {**_write_counts(out, prefix, together["counts"], plan, segmenter,
                                        together["blank"], "series", names=names,
                                        warn=lambda m: None),  # warned of per series
                        "min_column_px": together["speck"]}}
    if together["events"]:
        entry["events"] = _write_events(out, prefix, together["events"])
    elif together["sampling"] is None:
        warn(f"{prefix}: no pixel size: columns not followed from series to series "
             f"({prefix}_events.csv needs --column-distance in Å; give --sampling)")
    return entry
