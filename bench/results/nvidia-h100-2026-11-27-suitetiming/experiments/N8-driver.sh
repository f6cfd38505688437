#!/usr/bin/env bash
# N8 (tree: b307737 + pinned RowSumsPast16Bits + suite timing: whole-round R from device time, captures without
# emptying the cache, waits after giving memory back): the whole suite, must-show counts vs M5 and N1.
set -u
R=$OUT/n8; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1
echo "pip rc=$? $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/suite.txt
python3 bench/suite_must_show.py $R/suite bench/results/nvidia-h100-2026-11-27-rowsumhalves/suite | tee $R/must_show.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/n8.tgz -C $OUT n8
