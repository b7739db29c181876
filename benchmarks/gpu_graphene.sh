#!/usr/bin/env bash
# The graphene 5-fold benchmark (paper 004) on a lent GPU machine, in one device command.
#
# The device has PyTorch, scikit-image, tifffile, typer, rich, safetensors, matplotlib and
# PyYAML but not zarr, RosettaSciIO, abTEM or Dask; this path needs none of them, so the
# source tree runs as it is (PYTHONPATH=src, no install). The labelled images do not travel
# with the working tree (../shared stays behind): copy them into a folder that git ignores
# (e.g. `.gpu_data/graphene`, listed in .git/info/exclude; never committed), name it in the
# run's `carry`, and delete it after the session.
#
#   bash benchmarks/gpu_graphene.sh RECIPE EPOCHS DATA OUTDIR [graphene_cv.py options...]
#
# First the CUDA tests (tests/train/test_cuda.py: training with and without AMP, resume,
# tiled inference against the CPU), then the 5 folds as 5 processes sharing the one GPU,
# then one table (--combine). Logs and tables go to OUTDIR (on the device: $OUT).
# Example (one device call, 10 min limit):
#   bash benchmarks/gpu_graphene.sh configs/graphene_paper.yaml 300 .gpu_data/graphene $OUT
# DEVICE=cpu runs the same steps on the CPU (a smoke check: add --max-images 12 --epochs 1).
set -uo pipefail
recipe=$1 epochs=$2 data=$3 out=$4
shift 4
export PYTHONPATH=src PYTHONUNBUFFERED=1
mkdir -p "$out"
rm -rf /tmp/gpu_cv /tmp/gpu_cv_f*.log
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt" 2>&1
python3 -m pytest -q -p no:cacheprovider tests/train/test_cuda.py > "$out/cuda_tests.log" 2>&1
echo "cuda tests: exit $? (see cuda_tests.log)"
folds=()
for f in 1 2 3 4 5; do
  python3 benchmarks/graphene_cv.py --recipe "$recipe" --epochs "$epochs" \
    --device "${DEVICE:-cuda}" --data "$data" --only-folds "$f" --threads 2 --out "/tmp/gpu_cv/f$f" "$@" \
    > "/tmp/gpu_cv_f$f.log" 2>&1 &
  folds+=("/tmp/gpu_cv/f$f")
done
failed=0
for job in $(jobs -p); do wait "$job" || failed=$((failed + 1)); done
tail -n 3 /tmp/gpu_cv_f*.log > "$out/folds_tail.log"
[ "$failed" -eq 0 ] || echo "$failed fold(s) failed: see folds_tail.log (the table lacks them)"
python3 benchmarks/graphene_cv.py --combine "${folds[@]}" 2>&1 | tee "$out/table.txt"
