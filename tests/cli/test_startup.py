"""Start-up stays light: the commands load without torch (2.5 s of imports), which is
imported only by the commands that run a network; `temseg info IMAGE` never needs it."""

import subprocess
import sys

import numpy as np

from temseg.io import write_tiff


def _torch_after(code: str) -> bool:
    probe = code + "\nimport sys\nprint('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1] == "True"


def test_the_commands_load_without_torch(tmp_path):
    assert not _torch_after("import temseg.cli.main")
    assert not _torch_after("from temseg.train import TrainConfig")
    image = write_tiff(tmp_path / "a.tif", np.random.default_rng(0).random((32, 32)),
                       sampling=0.5)
    assert not _torch_after(f"from temseg.cli.main import main\nassert main(['info', "
                            f"{str(image)!r}]) == 0")
    assert _torch_after("from temseg.train import fit")  # (the probe can see torch)
