from dataclasses import dataclass, field

import pytest

from temseg.config import load_config, to_dict
from temseg.errors import ConfigError


@dataclass
class Inner:
    low: float = 1.0
    high: float = 2.0

    def __post_init__(self):
        if not self.low < self.high:
            raise ConfigError(f"range: low {self.low} must be below high {self.high}")


@dataclass
class Outer:
    name: str = "x"
    size: int = 4
    scale: float = 1.0
    pair: tuple[float, float] = (0.0, 1.0)
    inner: Inner = field(default_factory=Inner)
    tag: str | None = None


def test_yaml_round_trip_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: a\nsize: 3\nscale: 2\npair: [1, 2]\ninner: {low: 0.5, high: 3}\n")
    cfg = load_config(Outer, path, size=7, tag=None)
    assert cfg == Outer(name="a", size=7, scale=2.0, pair=(1.0, 2.0), inner=Inner(0.5, 3.0))
    assert isinstance(cfg.scale, float)
    assert to_dict(cfg)["pair"] == [1.0, 2.0]


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("scale: 1e-4\n")            # YAML 1.1 gives the string "1e-4"
    assert load_config(Outer, path).scale == 1e-4


@pytest.mark.parametrize("data, field_name", [
    ({"sise": 3}, "sise"),
    ({"size": "big"}, "size"),
    ({"size": True}, "size: True is not a valid int"),  # YAML `epochs: true` is no count
    ({"pair": [1]}, "pair"),
    ({"inner": {"low": 5, "high": 1}}, "range"),
    ({"inner": {"lo": 1}}, "inner.lo"),
])
def test_bad_values_name_the_field(data, field_name):
    with pytest.raises(ConfigError, match=field_name):
        load_config(Outer, data)


def test_bad_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Outer, path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(Outer, tmp_path / "missing.yaml")


@pytest.mark.parametrize("content", [
    bytes([0x49, 0x49, 0x2A, 0x00, 0xCE, 0xFF, 0x80]),  # a TIFF header: not UTF-8
    b"II*\x00\x08\x00\x00\x00",                           # UTF-8 by chance, but NUL bytes
])
def test_binary_file_is_not_a_yaml_config(tmp_path, content):
    path = tmp_path / "image.tif"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"image\.tif: not a text YAML file$"):
        load_config(Outer, path)
