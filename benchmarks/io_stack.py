"""Lazy stack reading: frames/s and peak memory while streaming a multi-page TIFF.

Writes an (F, N, N) uint16 stack page by page (never whole in memory), then
reads it back with ``temseg.io.read_image`` and ``Micrograph.frames()`` and
prints the throughput and the peak resident memory next to the stack's size.
The issue's target is a 1,000-frame 4k stack (32 GiB on disk):

    python benchmarks/io_stack.py --frames 1000 --size 4096 --folder /big/scratch

Peak memory should stay near one frame (32 MiB) plus the interpreter, not the stack.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from temseg.io import read_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--size", type=int, default=4096, help="frame side in pixels")
    parser.add_argument("--folder", type=Path, default=None, help="scratch folder (temp if unset)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        path = Path(tmp) / "stack.tif"
        rng = np.random.default_rng(0)
        frame = rng.integers(0, 4000, (args.size, args.size), dtype=np.uint16)
        start = time.perf_counter()
        with tifffile.TiffWriter(path, bigtiff=True) as writer:
            for i in range(args.frames):
                writer.write(frame + i, contiguous=True)
        write_s = time.perf_counter() - start
        import dask.array  # noqa: F401 - import cost is not part of opening a file
        import zarr  # noqa: F401

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        start = time.perf_counter()
        mg = read_image(path)
        open_s = time.perf_counter() - start
        start = time.perf_counter()
        total = 0.0
        for f in mg.frames():
            total += float(f[0, 0])
        read_s = time.perf_counter() - start
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        stack_mib = path.stat().st_size / 2**20

    print(f"stack            {args.frames} × {args.size}² uint16, {stack_mib:.0f} MiB on disk")
    print(f"write            {write_s:.2f} s")
    print(f"open (lazy)      {open_s * 1e3:.1f} ms, data is {type(mg.data).__name__}")
    print(f"stream frames    {read_s:.2f} s = {args.frames / read_s:.1f} frames/s "
          f"({stack_mib / read_s:.0f} MiB/s)")
    print(f"peak RSS         {rss_before:.0f} MiB before reading, {rss_after:.0f} MiB after "
          f"(one float32 frame = {args.size**2 * 4 / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
