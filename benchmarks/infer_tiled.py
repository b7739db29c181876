"""Tiled inference: speed and memory on a large image, and the seam left by each window.

Two measurements with an untrained residual U-Net (random weights are enough:
speed does not depend on them, and a seam is a disagreement between tiled
and whole-image prediction whatever the weights):

1. *speed*: one ``--size``² image through :func:`temseg.infer.predict_tiled`
   (tiles per second, megapixels per second, peak resident memory above the
   baseline, and the size of the output for comparison);
2. *seams*: on a ``--seam-size``² image small enough for one whole-image
   forward pass, the largest and mean |tiled − whole| of the foreground
   probability for each window (hamming, gaussian, flat), plus the fraction
   of pixels off by more than 0.01.

Full run (paper 003's 4096² micrograph, the issue's residual U-Net N=4, k=2,
130,682 parameters; a few minutes on a 2-core CPU)::

    python benchmarks/infer_tiled.py --size 4096 --tile 512 --overlap 0.25 --batch-size 4 \
        --blocks 4 --filters 4 --pool 2 --seam-size 1024 --threads 2

Quick check::

    python benchmarks/infer_tiled.py --size 512 --tile 128 --blocks 2 --filters 4 --seam-size 256
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np
import torch


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="image side for the speed run (px)")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--window", default="hamming")
    parser.add_argument("--blocks", type=int, default=4, help="residual U-Net levels (N)")
    parser.add_argument("--filters", type=int, default=4)
    parser.add_argument("--pool", type=int, default=2, help="pooling kernel k")
    parser.add_argument("--seam-size", type=int, default=1024,
                        help="image side of the seam comparison (0 to skip)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from temseg.device import pick_device
    from temseg.infer import count_tiles, predict_tiled
    from temseg.models import build_model, count_parameters, receptive_field

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    model = build_model("resunet", blocks=args.blocks, filters=args.filters, pool=args.pool)
    model.eval().to(device)
    rng = np.random.default_rng(args.seed)
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
          f"device {device}, torch threads {args.threads}")
    print(f"model: resunet N={args.blocks} k={args.pool} filters={args.filters}, "
          f"{count_parameters(model):,} parameters, receptive field {receptive_field(model)} px")

    image = rng.standard_normal((args.size, args.size)).astype(np.float32)
    n_tiles = count_tiles(image.shape, tile=args.tile, overlap=args.overlap,
                          multiple=model.factor)
    predict_tiled(model, image[:args.tile, :args.tile], tile=args.tile, device=device)  # warm-up
    base = _rss_mib()
    t0 = time.perf_counter()
    out = predict_tiled(model, image, tile=args.tile, overlap=args.overlap,
                        batch_size=args.batch_size, window=args.window, device=device)
    seconds = time.perf_counter() - t0
    peak = _rss_mib() - base
    print(f"speed: {args.size}² image, tile {args.tile}, overlap {args.overlap}, "
          f"batch {args.batch_size}, {args.window}: {n_tiles} tiles in {seconds:.1f} s "
          f"({n_tiles / seconds:.2f} tiles/s, {args.size**2 / 1e6 / seconds:.2f} Mpx/s)")
    print(f"memory: peak RSS +{peak:.0f} MiB above the warm process "
          f"(image {image.nbytes / 2**20:.0f} MiB, output {out.nbytes / 2**20:.0f} MiB)")
    del out

    if args.seam_size:
        small = rng.standard_normal((args.seam_size, args.seam_size)).astype(np.float32)
        with torch.inference_mode():
            ref = model(torch.from_numpy(small[None, None]).to(device)).softmax(1)[0, 1]
        ref = ref.cpu().numpy()
        print(f"seams: {args.seam_size}² image, tile {args.tile}, overlap {args.overlap} "
              f"vs one whole-image pass (foreground probability)")
        for window in ("hamming", "gaussian", "flat"):
            tiled = predict_tiled(model, small, tile=args.tile, overlap=args.overlap,
                                  batch_size=args.batch_size, window=window, device=device)[1]
            err = np.abs(tiled - ref)
            print(f"  {window:8s} max {err.max():.4f}  mean {err.mean():.5f}  "
                  f"> 0.01: {100 * (err > 0.01).mean():.2f} % of pixels")


if __name__ == "__main__":
    main()
