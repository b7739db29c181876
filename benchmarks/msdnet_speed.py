"""MSD-net training step: naive ``torch.cat`` + direct convs vs the FFT single-buffer version.

Times forward + backward (the training step without the optimiser) and the
peak memory of each implementation, each in its own subprocess so the peaks
do not mix: on CPU the peak resident memory above the process's baseline
(``resource.getrusage``), on CUDA ``torch.cuda.max_memory_allocated``. Also
checks outputs and gradients: each float32 implementation against a float64
run of the FFT implementation (``fft64``; exact to ~1e-14 against float64
direct convolution, see tests/models/test_msdnet.py), since float32 direct
convolution itself drifts by up to ~1e-3 on the gradients of near-dead layers.

Full run (paper 002's network, batch 8 × 256²; the naive step takes about a
minute on a 2-core CPU)::

    python benchmarks/msdnet_speed.py --batch 8 --size 256 --depth 50 --repeats 3 --threads 2

Quick check::

    python benchmarks/msdnet_speed.py --batch 2 --size 96 --depth 20 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def worker(args) -> None:
    import numpy as np
    import torch

    from temseg.device import pick_device
    from temseg.models import build_model

    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    torch.manual_seed(args.seed)
    impl, dtype = (args.impl[:-2], torch.float64) if args.impl.endswith("64") else \
        (args.impl, torch.float32)
    model = build_model("msdnet", depth=args.depth, kernel_size=args.kernel, width=args.width,
                        seed=args.seed, implementation=impl).to(device, dtype)
    gen = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(args.batch, 1, args.size, args.size, generator=gen).to(device, dtype)
    target = torch.randn(args.batch, 2, args.size, args.size, generator=gen).to(device, dtype)

    def step():
        model.zero_grad(set_to_none=True)
        y = model(x)
        loss = (y * target).mean()
        loss.backward()
        return y

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    base_rss = _rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base_cuda = torch.cuda.memory_allocated(device)
    times = []
    for _ in range(args.repeats + 1):  # first step warms up
        sync()
        t0 = time.perf_counter()
        y = step()
        sync()
        times.append(time.perf_counter() - t0)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB → MB on Linux
    result = {"impl": args.impl, "device": str(device), "step_s": times[1:],
              "peak_cpu_mb": peak_rss - base_rss}
    if device.type == "cuda":
        result["peak_cuda_mb"] = (torch.cuda.max_memory_allocated(device) - base_cuda) / 2**20
    np.savez(args.out, y=y.detach().cpu().numpy(),
             **{f"grad:{n}": p.grad.cpu().numpy() for n, p in model.named_parameters()})
    print(json.dumps(result))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=256, help="image side, px")
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--width", type=int, default=1)
    parser.add_argument("--kernel", type=int, default=9)
    parser.add_argument("--repeats", type=int, default=3, help="timed steps after one warm-up")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--impls", default="naive,fft,fft64",
                        help="implementations to run; fft64 = float64 reference for the check")
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.impl:
        return worker(args)

    import numpy as np

    print(f"MSD-net depth {args.depth}, width {args.width}, {args.kernel}×{args.kernel} kernels; "
          f"batch {args.batch} × {args.size}²; {args.threads} thread(s); forward + backward")
    results, arrays = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for impl in args.impls.split(","):
            out = Path(tmp) / f"{impl}.npz"
            cmd = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]),
                   "--impl", impl, "--out", str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode:
                sys.exit(f"{impl} failed:\n{proc.stderr}")
            results[impl] = json.loads(proc.stdout.strip().splitlines()[-1])
            with np.load(out) as f:
                arrays[impl] = {k: f[k] for k in f.files}
    for impl, r in results.items():
        steps = r["step_s"]
        mem = f"peak CPU RSS +{r['peak_cpu_mb']:.0f} MB"
        if "peak_cuda_mb" in r:
            mem += f", peak CUDA {r['peak_cuda_mb']:.0f} MB"
        print(f"{impl:6s} {r['device']}: step {min(steps):.3f} s (best of {len(steps)}, "
              f"median {sorted(steps)[len(steps) // 2]:.3f} s); {mem}")
    if "naive" in results and "fft" in results:
        speed = min(results["naive"]["step_s"]) / min(results["fft"]["step_s"])
        print(f"speed-up fft vs naive: {speed:.1f}×")

    def compare(a, b, label):
        dy = float(np.abs(a["y"] - b["y"]).max())
        keys = [k for k in a if k.startswith("grad:")]
        scale = max(float(np.abs(b[k]).max()) for k in keys)
        dg = max(float(np.abs(a[k] - b[k]).max()) for k in keys) / scale
        worst = max(keys, key=lambda k: np.abs(a[k] - b[k]).max() / (np.abs(b[k]).max() + 1e-30))
        rel = float(np.abs(a[worst] - b[worst]).max() / (np.abs(b[worst]).max() + 1e-30))
        print(f"{label}: max |Δ output| = {dy:.2e}; max |Δ gradient| / max |gradient| = "
              f"{dg:.2e} (worst tensor {worst[5:]}: {rel:.1e} of its own max)")

    if "naive" in arrays and "fft" in arrays:
        compare(arrays["fft"], arrays["naive"], "fft vs naive")
    for impl in ("naive", "fft"):
        if impl in arrays and "fft64" in arrays:
            compare(arrays[impl], arrays["fft64"], f"{impl} vs float64 reference")


if __name__ == "__main__":
    main()
