"""Time the preprocessing steps and the metrics on synthetic micrographs.

Prints one line per step: image size, median wall time over repeats and
throughput in megapixels per second (single thread).

    python benchmarks/bench_preprocess.py --sizes 1024 2048 4096 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from temseg.metrics import score_set  # noqa: E402
from temseg.preprocess import (Preprocessing, extract_patches, flatfield, rebin,  # noqa: E402
                               remove_outliers, resample_to, standardize)


def _time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096],
                        help="image sides in pixels")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per step")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    rng = np.random.default_rng(args.seed)
    print(f"# temseg preprocessing benchmark | {platform.processor() or platform.machine()} "
          f"| numpy {np.__version__} | repeats {args.repeats} | 1 thread")
    print(f"{'step':<28}{'size':>7}{'time_s':>10}{'MPx/s':>9}")
    for n in args.sizes:
        image = rng.poisson(50.0, (n, n)).astype(np.float32)
        image[rng.integers(0, n, 20), rng.integers(0, n, 20)] = 5e4  # x-rays
        mask = (rng.random((n, n)) < 0.2).astype(np.uint8)
        steps = {
            "remove_outliers(size=3)": lambda: remove_outliers(image),
            "flatfield(order=2)": lambda: flatfield(image, order=2),
            "standardize": lambda: standardize(image),
            "Preprocessing(all steps)": lambda: Preprocessing(flatfield_order=2)(image),
            "rebin(2)": lambda: rebin(image, 2, sampling=0.5),
            "resample_to(0.5->0.7 Å/px)": lambda: resample_to(image, sampling=0.5,
                                                             target_sampling=0.7),
            "extract_patches(n//4)": lambda: extract_patches(image, mask, size=n // 4,
                                                            drop_background=True),
            "score_set(1 image)": lambda: score_set([mask], [mask[::-1]],
                                                    probs=[mask.astype(np.float32)]),
        }
        for name, fn in steps.items():
            t = _time(fn, args.repeats)
            print(f"{name:<28}{n:>7}{t:>10.4f}{n * n / 1e6 / t:>9.1f}")


if __name__ == "__main__":
    main()
