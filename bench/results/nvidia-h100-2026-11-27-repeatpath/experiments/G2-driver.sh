#!/usr/bin/env bash
# G2 (H100): the suite's target_verify bs 16 N 4 W 4096 cell with other req_to_token values and lengths.
set -u
cd "$(dirname "$0")/.."
R=$OUT/g2; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1
echo "pip rc=$? $((SECONDS - t0)) s"
python3 .scratch/diag2.py > $R/diag2.md 2>&1
echo "diag2 rc=$? $((SECONDS - t0)) s"; cat $R/diag2.md
