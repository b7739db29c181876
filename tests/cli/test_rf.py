"""``temseg rf``: receptive field in px and nm with the parameter count, tables for lists."""

import re

from temseg.cli.main import main
from temseg.models import build_model


def test_single_network_in_px_and_nm(capsys):
    code = main(["rf", "resunet", "--blocks", "2", "--pool", "8", "--pixel-size-nm", "0.02152"])
    out = capsys.readouterr().out
    assert code == 0
    assert "392 px" in out and "8.44 nm" in out and "8,074 trainable parameters" in out


def test_sampling_in_angstrom(capsys):
    assert main(["rf", "resunet", "--blocks", "2", "--pool", "2", "--sampling", "1.243"]) == 0
    out = capsys.readouterr().out
    assert "44 px" in out and "5.47 nm" in out


def test_table_for_lists_of_pools_and_blocks(capsys):
    code = main(["rf", "resunet", "--blocks", "2,3", "--pool", "2,8",
                 "--pixel-size-nm", "0.1243"])
    out = capsys.readouterr().out
    assert code == 0
    rows = [line for line in out.splitlines() if "resunet blocks=" in line]
    assert len(rows) == 4
    assert re.search(r"blocks=2, pool=2 .*8,074 .*44 .*5\.47", out)
    assert re.search(r"blocks=2, pool=8 .*8,074 .*392 .*48\.7", out)
    assert re.search(r"blocks=3, pool=2 .*32,730 .*96", out)


def test_msdnet_and_unet(capsys):
    assert main(["rf", "msdnet", "--seed", "4"]) == 0
    model = build_model("msdnet", seed=4)
    expected = 1 + 8 * sum(model.dilations)
    assert f"receptive field {expected} px" in capsys.readouterr().out
    assert main(["rf", "unet", "--depth", "3", "--features", "32"]) == 0
    assert "96 px" in capsys.readouterr().out
    assert main(["rf", "msdnet", "--depth", "10,20", "--dilations", "repeat",
                 "--kernel-size", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"depth=10 .* 111 ", out) and re.search(r"depth=20 .* 221 ", out)


def test_errors_are_one_line_with_exit_2(capsys):
    assert main(["rf", "vgg"]) == 2
    err = capsys.readouterr().err
    assert "architecture" in err and len(err.strip().splitlines()) == 1
    assert "ensemble" not in err  # listed as one, then refused for want of members
    assert main(["rf", "ensemble"]) == 2
    assert "temseg info MODEL gives it" in capsys.readouterr().err
    assert main(["rf", "resunet", "--pool", "two"]) == 2
    assert "--pool" in capsys.readouterr().err
    assert main(["rf", "resunet", "--sampling", "1", "--pixel-size-nm", "0.1"]) == 2
    assert main(["rf", "resunet", "--filtres", "4"]) == 2


def test_an_option_of_another_architecture_is_named_in_one_line(capsys):
    """rf msdnet --blocks 3 used to end in MSDNet.__init__()'s TypeError."""
    assert main(["rf", "msdnet", "--blocks", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "__init__" not in err
    assert "--blocks: not an option of msdnet (its options here: --depth, --kernel-size, " \
           "--max-dilation, --dilations, --seed)" in " ".join(err.split())
    assert main(["rf", "resunet", "--blocks", "0"]) == 2
    assert "blocks: must be an integer >= 1, got 0" in capsys.readouterr().err


def test_one_class_is_a_sigmoid_output(capsys):
    """--classes 1: one foreground logit (sigmoid), which training and prediction take; the head
    has 1 output instead of 2 (8,074 − 5 parameters)."""
    assert main(["rf", "resunet", "--classes", "1"]) == 0
    assert "8,069 trainable parameters" in capsys.readouterr().out
