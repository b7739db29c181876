"""Convolution memory layout on a CPU: a training step and a tiled-inference batch of the
graphene recipe's residual U-Net (N = 4, k = 2, 4 filters), default (NCHW) against
channels-last layout (what ``train`` and ``segment`` use, ``temseg.models.blocks.channels_last``).

    python benchmarks/channels_last.py [--threads 1] [--repeats 8]

Prints the median seconds per training step (batch 4 × 256², CE loss, Adam) and per forward
pass of 4 × 512² tiles, for each layout, and the largest difference of their outputs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from temseg.models import ResUNet
from temseg.models.blocks import channels_last


def measure(layout: str, repeats: int) -> tuple[float, float, torch.Tensor]:
    torch.manual_seed(0)
    model = ResUNet(in_channels=1, classes=2, blocks=4, filters=4)
    if layout == "channels-last":
        channels_last(model)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.randn(4, 1, 256, 256, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 2, (4, 256, 256), generator=torch.Generator().manual_seed(2))
    steps = []
    for _ in range(repeats + 2):  # two warm-up steps
        start = time.perf_counter()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        steps.append(time.perf_counter() - start)
    model.eval()
    tiles = torch.randn(4, 1, 512, 512, generator=torch.Generator().manual_seed(3))
    passes = []
    with torch.inference_mode():
        for _ in range(max(3, repeats // 2) + 1):
            start = time.perf_counter()
            out = model(tiles)
            passes.append(time.perf_counter() - start)
    return float(np.median(steps[2:])), float(np.median(passes[1:])), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {layout: measure(layout, args.repeats) for layout in ("default", "channels-last")}
    for layout, (step, forward, _) in results.items():
        print(f"{layout:>13}: train step {step:.3f} s, inference 4 × 512² {forward:.3f} s")
    (s0, f0, a), (s1, f1, b) = results["default"], results["channels-last"]
    print(f"channels-last: train step {100 * (s1 / s0 - 1):+.0f} %, inference "
          f"{100 * (f1 / f0 - 1):+.0f} %; outputs differ by at most "
          f"{float((a - b).abs().max()):.2g} (logits after {args.repeats + 2} training steps "
          "from the same start)")


if __name__ == "__main__":
    main()
