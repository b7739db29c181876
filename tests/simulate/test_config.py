"""Validation of the simulation config: every bad value fails before any work, naming its field."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from temseg.config import load_config
from temseg.errors import ConfigError
from temseg.simulate.config import SimulateConfig, check_range

SMALL = {"size": 64, "sampling": 0.3, "wave_sampling": 0.1,
         "structure": {"radius": [5.0, 7.0], "max_offset": 1.0}}


def _with(**changes):
    data = {**SMALL, **{k: v for k, v in changes.items() if "." not in k}}
    for key, value in changes.items():
        if "." in key:
            group, field = key.split(".")
            data[group] = {**data.get(group, {}), field: value}
    return data


def test_defaults_and_small_config_are_valid(tmp_path):
    cfg = load_config(SimulateConfig, _with())
    assert cfg.n_images == 100
    assert cfg.field_of_view == pytest.approx(19.2)
    assert cfg.detector.ranges().dose == (1e2, 1e6)


@pytest.mark.parametrize(("changes", "field"), [
    ({"detector.dose": [-10.0, 100.0]}, "detector.dose"),
    ({"detector.dose": [1e4, 1e2]}, "detector.dose"),
    ({"detector.dose": "medium"}, "detector.dose"),
    ({"detector.mtf": "MTF9"}, "detector.mtf"),
    ({"detector.mtf": None}, "detector.mtf"),  # no preset and no noise model
    ({"detector.dose": "fitted"}, "detector.dose"),  # fitted needs a noise model
    ({"detector.c0": [0.0, 0.5]}, "detector.c0"),
    ({"detector.c3": [3.0, 2.0]}, "detector.c3"),
    ({"imaging.defocus": [200.0, -200.0]}, "imaging.defocus"),
    ({"imaging.focal_spread": []}, "imaging.focal_spread"),
    ({"imaging.blur": [-0.1, 0.5]}, "imaging.blur"),
    ({"structure.element": "Xx"}, "structure.element"),
    ({"structure.support": "graphene"}, "structure.support"),
    ({"structure.radius": [5.0, 30.0]}, "structure.radius"),
    ({"wave_sampling": 0.5}, "wave_sampling"),
    ({"size": 8}, "size"),
    ({"mode": "movie"}, "mode"),
    ({"n_structures": 0}, "n_structures"),
    ({"unknown_key": 1}, "unknown_key"),
])
def test_bad_values_name_their_field(changes, field):
    with pytest.raises(ConfigError) as info:
        load_config(SimulateConfig, _with(**changes))
    assert str(info.value).startswith(field), str(info.value)


def test_missing_noise_model_fails_at_validation(tmp_path):
    with pytest.raises(Exception) as info:
        load_config(SimulateConfig, _with(**{"detector.noise_model": str(tmp_path / "no.json")}))
    assert "no.json" in str(info.value)


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_check_range_accepts_ordered_refuses_reversed(a, b):
    if a <= b:
        assert check_range("x", [a, b]) == (a, b)
    else:
        with pytest.raises(ConfigError, match="^x: reversed"):
            check_range("x", [a, b])
