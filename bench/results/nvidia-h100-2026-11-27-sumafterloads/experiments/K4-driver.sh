#!/usr/bin/env bash
# K4: the suite's per-request cells (draft_extend, extend; metadata kind), base (HEAD's kernels: the tree with
# .scratch/k/plain.diff reversed) then the tree (the rows-before sum after the first pass's loads), each installed
# in turn on one machine.
set -u
R=$OUT/k4; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
ARGS="--modes draft_extend,extend --kinds metadata --minutes 1.5"
git apply -R .scratch/k/plain.diff && echo "reversed"
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip-base.txt 2>&1
echo "pip base rc=$? $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/base $ARGS > $R/suite-base.txt 2>&1
echo "suite base rc=$? $((SECONDS - t0)) s"
git apply .scratch/k/plain.diff && echo "applied"
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip-tree.txt 2>&1
echo "pip tree rc=$? $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/tree $ARGS > $R/suite-tree.txt 2>&1
echo "suite tree rc=$? $((SECONDS - t0)) s"
python3 bench/suite_must_show.py $R/tree $R/base | tee $R/must_show.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/k4.tgz -C $OUT k4
