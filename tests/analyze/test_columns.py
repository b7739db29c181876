"""Column counts per class (003): connected regions of a class-index mask, and their area."""

import csv

import numpy as np
import pytest
from skimage.draw import disk

from temseg.analyze.columns import (count_columns, count_fields, count_row, counts_summary,
                                    plot_counts, write_counts_csv)
from temseg.errors import InputError

SPECIES = ["background", "Mo", "S2", "S1"]


def discs(counts, *, shape=(96, 96), radius=4, spacing=12, seed=0):
    """A class mask with ``counts[k]`` discs of class ``k + 1`` on a shuffled grid."""
    mask = np.zeros(shape, np.uint8)
    sites = [(y, x) for y in range(8, shape[0] - 6, spacing) for x in range(8, shape[1] - 6,
                                                                             spacing)]
    order = np.random.default_rng(seed).permutation(len(sites))
    classes = np.repeat(np.arange(1, len(counts) + 1), counts)
    for cls, site in zip(classes, order):
        mask[disk(sites[site], radius, shape=shape)] = cls
    return mask


def test_known_discs_per_class_are_counted_exactly():
    mask = discs([7, 5, 2])
    counts = count_columns(mask, classes=SPECIES, sampling=0.5)
    assert [counts[n]["count"] for n in SPECIES[1:]] == [7, 5, 2]
    one = int((discs([1]) == 1).sum())  # a radius-4 disc: 49 px
    assert [counts[n]["area_px"] for n in SPECIES[1:]] == [7 * one, 5 * one, 2 * one]
    assert counts["Mo"]["area_nm2"] == pytest.approx(7 * one * 0.05 ** 2)
    assert count_columns(mask, classes=SPECIES)["S1"]["area_nm2"] is None


def test_corner_neighbours_stay_two_columns_and_specks_can_be_dropped():
    mask = np.zeros((20, 20), np.uint8)
    mask[2:5, 2:5] = 1
    mask[5:8, 5:8] = 1  # meets the first at a corner only
    mask[15, 15] = 1  # a one-pixel speck
    mask[10:13, 2:5] = 2
    mask[10:13, 5:8] = 3  # touches an S2 column side by side: still one of each
    counts = count_columns(mask, classes=SPECIES)
    assert (counts["Mo"]["count"], counts["S2"]["count"], counts["S1"]["count"]) == (3, 1, 1)
    counts = count_columns(mask, classes=SPECIES, min_area_px=2)
    assert counts["Mo"] == {"count": 2, "area_px": 18, "area_nm2": None}


def test_bad_masks_are_named():
    with pytest.raises(InputError, match=r"values 0\.\.4 outside the 4 classes"):
        count_columns(np.array([[0, 4]]), classes=SPECIES)
    with pytest.raises(InputError, match="integer class indices"):
        count_columns(np.zeros((3, 3)), classes=SPECIES)
    with pytest.raises(InputError, match="min_area_px"):
        count_columns(np.zeros((3, 3), int), classes=SPECIES, min_area_px=0)


def test_rows_csv_summary_and_plot(tmp_path):
    rows = [count_row(0, discs([3, 2, 1]), classes=SPECIES, sampling=0.5, frames_per_series=3),
            count_row(1, None, classes=SPECIES, sampling=0.5, frames_per_series=3),
            count_row(2, discs([4, 2, 0]), classes=SPECIES, sampling=0.5, frames_per_series=3)]
    assert rows[2]["first_frame"] == 6 and rows[1]["blank"] and rows[1]["Mo_count"] is None
    path = write_counts_csv(tmp_path / "x_counts.csv", rows, classes=SPECIES, sampling=0.5)
    with open(path) as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == count_fields(SPECIES, sampling=0.5) == [
        "series", "first_frame", "blank", "Mo_count", "Mo_count_whole", "Mo_area_px",
        "Mo_area_nm2", "S2_count", "S2_count_whole", "S2_area_px", "S2_area_nm2", "S1_count",
        "S1_count_whole", "S1_area_px", "S1_area_nm2"]
    assert [r["S1_count"] for r in table] == ["1", "", "0"]
    assert "Mo_area_nm2" not in count_fields(SPECIES)
    summary = counts_summary(rows, classes=SPECIES)
    assert summary["Mo"] == {"mean": 3.5, "min": 3, "max": 4}
    plot = plot_counts(tmp_path / "x_counts.png", rows, classes=SPECIES, title="x")
    assert plot.stat().st_size > 1000


def test_the_counts_plot_names_the_series_when_given_names(tmp_path, monkeypatch):
    """--series-files: the x axis shows each series' file name, not only its index."""
    import temseg.analyze.columns as columns

    figures = []
    monkeypatch.setattr(columns, "write_figure", lambda fig, path: figures.append(fig) or path)
    rows = [count_row(i, discs([3, 2, 1]), classes=SPECIES) for i in range(3)]
    names = ["s0_df-50", "s1_df-50", "s2_df-50"]
    columns.plot_counts(tmp_path / "a.png", rows, classes=SPECIES, names=names)
    columns.plot_counts(tmp_path / "b.png", rows, classes=SPECIES)
    named, plain = (f.axes[0] for f in figures)
    assert [t.get_text() for t in named.get_xticklabels()] == names
    assert named.get_xlabel() == "focal series"
    assert "index" in plain.get_xlabel()
    assert not {t.get_text() for t in plain.get_xticklabels()} & set(names)
    long = [f"2026-11-22_insitu_MoS2_series{i:02d}_df-50.dm4" for i in range(3)]
    columns.plot_counts(tmp_path / "c.png", rows, classes=SPECIES, names=long)
    shown = [t.get_text() for t in figures[-1].axes[0].get_xticklabels()]
    assert shown == ["2026-11-2…df-50.dm4"] * 3 and all(len(t) <= 19 for t in shown)


def test_columns_match_by_centre_distance_and_class():
    from temseg.analyze.column_events import column_scores, match_columns

    classes = ["background", "Mo", "S2", "S1"]
    truth = np.zeros((40, 40), np.uint8)
    pred = np.zeros_like(truth)
    truth[5:9, 5:9] = 1          # Mo, found 1 px off: a match at max distance 1.5 px
    pred[6:10, 5:9] = 1
    truth[20:24, 20:24] = 3      # S1 (a vacancy) called S2: a missed S1 and a false S2
    pred[20:24, 20:24] = 2
    truth[30:34, 5:9] = 2        # S2 found 3 px off: too far, a miss and a false alarm
    pred[30:34, 8:12] = 2
    found = match_columns(pred, truth, classes=classes, max_distance_px=1.5)
    assert found["Mo"] == {"tp": 1, "fp": 0, "fn": 0, "labelled": 1, "found": 1}
    assert found["S2"] == {"tp": 0, "fp": 2, "fn": 1, "labelled": 1, "found": 2}
    assert found["S1"] == {"tp": 0, "fp": 0, "fn": 1, "labelled": 1, "found": 0}
    scores = column_scores(found)
    assert scores["Mo"]["f1"] == 1.0 and scores["S2"]["count_error"] == 1.0
    assert scores["S1"]["recall"] == 0.0 and scores["S1"]["count_error"] == -1.0
    # nothing labelled: perfect when nothing is found, else neither recall nor precision
    empty = column_scores({"S1": {"tp": 0, "fp": 0, "fn": 0, "labelled": 0, "found": 0},
                           "Mo": {"tp": 0, "fp": 2, "fn": 0, "labelled": 0, "found": 2}})
    assert (empty["S1"]["recall"], empty["S1"]["f1"], empty["S1"]["count_error"]) == (1, 1, None)
    assert (empty["Mo"]["recall"], empty["Mo"]["precision"], empty["Mo"]["f1"]) == (0, 0, 0)
    # one found column cannot match two labelled ones
    two = np.zeros((12, 12), np.uint8)
    two[2:4, 2:4] = 1
    two[2:4, 6:8] = 1
    one = np.zeros_like(two)
    one[2:4, 4:6] = 1
    assert match_columns(one, two, classes=classes[:2], max_distance_px=3)["Mo"]["tp"] == 1


@pytest.mark.parametrize(("given", "model", "data", "expected"), [
    (None, 0.125, 0.125, 3), (None, 0.125, 0.0625, 12), (None, 0.125, 0.25, 1),
    (None, 0.125, 1.0, 1), (None, None, 0.1, 3), (None, 0.125, None, 3), (7, 0.125, 0.0625, 7)])
def test_a_speck_is_three_pixels_of_the_models_size(given, model, data, expected):
    from temseg.analyze.columns import speck_px

    assert speck_px(given, model_sampling=model, sampling=data) == expected


def test_column_transitions_pair_across_drift_and_count_changes():
    from temseg.analyze.column_events import column_transitions, transition_row

    # three columns; the sample drifts by (dy, dx) = (2, -3); the S2 at (30, 30) loses an atom,
    # the Mo at (50, 40) vanishes, a new S2 appears at (60, 60), one Mo leaves the field
    before = np.array([[1, 20.0, 20.0, 9], [2, 30.0, 30.0, 9], [1, 50.0, 40.0, 9],
                       [1, 1.0, 40.0, 9]])
    after = np.array([[1, 17.2, 22.1, 9], [3, 27.0, 32.0, 9], [2, 60.0, 60.0, 9]])
    found = column_transitions(before, after, n_classes=4, max_distance_px=1.5,
                               drift=(2.0, -3.0), shape=(80, 80))
    t = found["transitions"]
    assert t[1, 1] == 1 and t[2, 3] == 1 and t.sum() == 2
    assert found["vanished"].tolist() == [0, 1, 0, 0]  # the Mo at x = 1 left the field
    assert found["appeared"].tolist() == [0, 0, 1, 0]
    # without the drift nothing pairs; without the shape the Mo at the edge "vanishes" too
    assert column_transitions(before, after, n_classes=4, max_distance_px=1.5)[
        "transitions"].sum() == 0
    assert column_transitions(before, after, n_classes=4, max_distance_px=1.5,
                              drift=(2.0, -3.0))["vanished"].tolist() == [0, 2, 0, 0]
    row = transition_row(0, 1, (2.0, -3.0), found, classes=["background", "Mo", "S2", "S1"])
    assert row["S2_to_S1"] == 1 and row["Mo_kept"] == 1 and row["Mo_vanished"] == 1
    assert row["S2_appeared"] == 1 and row["paired"] == 2 and row["S1_to_S2"] == 0
    # each event placed: the S2 that lost an atom and the new S2 where they are now, the
    # vanished Mo where it was; the Mo that left the field and the one kept are no events
    from temseg.analyze.column_events import event_places

    places = event_places(0, 1, before, after, found, classes=["background", "Mo", "S2", "S1"],
                          sampling=0.5)
    assert [(p["event"], p["from_class"], p["to_class"], p["from_column"], p["to_column"],
             p["x_px"], p["y_px"]) for p in places] == [
        ("changed", "S2", "S1", 1, 1, 27.0, 32.0), ("appeared", "", "S2", "", 2, 60.0, 60.0),
        ("vanished", "Mo", "", 2, "", 50.0, 40.0)]
    assert places[0]["x_nm"] == 1.35 and places[2]["y_nm"] == 2.0
    with pytest.raises(InputError, match="max_distance_px"):
        column_transitions(before, after, n_classes=4, max_distance_px=0)


def test_series_drift_finds_the_shift_of_the_sample():
    from temseg.analyze.columns import series_drift

    image = np.random.default_rng(3).random((64, 64))
    moved = np.roll(image, (4, -6), axis=(0, 1))  # the sample moved down 4, left 6
    assert series_drift(image, moved) == pytest.approx((4.0, -6.0), abs=0.1)
    # a series where nothing was found (all background) has nothing to align: no drift
    assert series_drift(np.zeros((32, 32)), moved[:32, :32]) == (0.0, 0.0)


def test_pairing_in_groups_finds_the_dense_optimum():
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    from temseg.analyze.column_events import _pair_up

    rng = np.random.default_rng(5)
    for _ in range(50):
        a = rng.uniform(0, 30, (rng.integers(0, 30), 2))
        b = rng.uniform(0, 30, (rng.integers(0, 30), 2))
        limit = rng.uniform(0.5, 5.0)
        i, j = _pair_up(a, b, limit)
        expected = (0, 0.0)
        if len(a) and len(b):
            dist = cdist(a, b)
            far = dist > limit
            dist[far] = 1e9
            r, c = linear_sum_assignment(dist)
            expected = (int((~far[r, c]).sum()), float(dist[r, c][~far[r, c]].sum()))
        got = (len(i), float(cdist(a, b)[i, j].sum()) if len(i) else 0.0)
        assert got[0] == expected[0] and got[1] == pytest.approx(expected[1])
        assert len(set(i.tolist())) == len(i) and len(set(j.tolist())) == len(j)


def test_columns_cut_by_the_edge_are_flagged_and_left_out_of_the_whole_count(tmp_path):
    from temseg.analyze.columns import column_positions, write_positions_csv

    mask = discs([4, 3, 1])  # every disc clear of the 96² field's edge
    for centre, cls in (((0, 40), 1), ((50, 95), 1), ((95, 0), 2)):  # three cut by it
        mask[disk(centre, 4, shape=mask.shape)] = cls
    table = column_positions(mask, classes=SPECIES)
    assert table.shape == (11, 5)
    edge = table[:, 4] == 1
    assert sorted(table[edge, 0].tolist()) == [1, 1, 2]
    assert sorted(np.round(table[edge][:, [2, 1]]).tolist()) == sorted(
        [[1.0, 40.0], [50.0, 94.0], [94.0, 1.0]])  # (y, x) pulled inside by the cut
    row = count_row(0, mask, classes=SPECIES)
    assert (row["Mo_count"], row["Mo_count_whole"]) == (6, 4)
    assert (row["S2_count"], row["S2_count_whole"]) == (4, 3)
    assert (row["S1_count"], row["S1_count_whole"]) == (1, 1)
    # the same from a table given, and a blank series has neither
    assert count_row(0, mask, classes=SPECIES, positions=table)["Mo_count_whole"] == 4
    assert count_row(1, None, classes=SPECIES)["Mo_count_whole"] is None
    path = write_positions_csv(tmp_path / "x_columns.csv", [(0, table)], classes=SPECIES,
                               sampling=0.5)
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[-1] == "touches_border"
    assert sum(r["touches_border"] == "True" for r in rows) == 3
    assert {r["touches_border"] for r in rows} == {"True", "False"}


def test_events_give_the_drift_in_nm_and_summed_from_the_first_series():
    from temseg.analyze.column_events import transition_row

    found = {"transitions": np.zeros((4, 4), int), "appeared": np.zeros(4, int),
             "vanished": np.zeros(4, int)}
    row = transition_row(2, 3, (2.0, -3.0), found, classes=SPECIES, sampling=0.5,
                         since_first=(7.5, -1.25))
    assert (row["drift_y_px"], row["drift_x_px"]) == (2.0, -3.0)
    assert (row["drift_y_nm"], row["drift_x_nm"]) == (pytest.approx(0.1), pytest.approx(-0.15))
    assert (row["cum_drift_y_px"], row["cum_drift_x_px"]) == (7.5, -1.25)
    assert row["cum_drift_y_nm"] == pytest.approx(0.375)
    assert row["cum_drift_x_nm"] == pytest.approx(-0.0625)
    # the columns come first, in this order; no nm without a pixel size
    assert list(row)[2:10] == ["drift_y_px", "drift_x_px", "drift_y_nm", "drift_x_nm",
                               "cum_drift_y_px", "cum_drift_x_px", "cum_drift_y_nm",
                               "cum_drift_x_nm"]
    bare = transition_row(2, 3, (2.0, -3.0), found, classes=SPECIES, since_first=(7.5, -1.25))
    assert "drift_y_nm" not in bare and "cum_drift_y_nm" not in bare
    assert bare["cum_drift_x_px"] == -1.25


def test_regions_too_large_for_one_column_are_found():
    from temseg.analyze.columns import column_positions, oversized_columns, oversized_summary

    mask = discs([6, 3, 1])  # radius-4 discs: 45 px
    mask[60:90, 2:40] = 1  # a blob of 1140 px
    table = column_positions(mask, classes=SPECIES)
    # 0.5 Å/px: a disc is 11 Å² (one column), the blob 285 Å²
    flagged = oversized_columns(table, sampling=0.5)
    assert flagged.sum() == 1 and table[flagged, 3].tolist() == [1140.0]
    # at 0.7 Å/px a disc is 22 Å²: too large too
    assert oversized_columns(table, sampling=0.7).sum() == table.shape[0]
    # no pixel size: 1140 px > 20 × the median 45 px
    assert oversized_columns(table).tolist() == flagged.tolist()
    summary = oversized_summary([table, table[~flagged], table], sampling=0.5)
    assert summary["regions"] == 2 and summary["series"] == 2
    assert summary["largest_px"] == 1140
    assert summary["largest_nm2"] == pytest.approx(1140 * 0.05 ** 2)
    assert "0.2 nm²" in summary["rule"]
    assert oversized_summary([table[~flagged]], sampling=0.5) is None
    assert oversized_summary([table])["largest_nm2"] is None
