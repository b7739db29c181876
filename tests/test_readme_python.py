"""The README's Python example runs as written (on a graphene micrograph of Sadre et al.)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_python_example_runs(graphene_dir, tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "the README lost its Python example"
    image = sorted(p for p in graphene_dir.glob("*.png") if "_LABEL" not in p.name)[0]
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        namespace: dict = {}
        exec(compile(block.replace("my_graphene.png", str(image)), "README.md", "exec"),
             namespace)
        assert namespace["prob"].shape == namespace["micrograph"].data.shape
        assert 0.0 <= float(namespace["prob"].min()) and float(namespace["prob"].max()) <= 1.0
    assert re.fullmatch(r"\d+\.\d% contamination in \d+ patches\n", capsys.readouterr().out)
