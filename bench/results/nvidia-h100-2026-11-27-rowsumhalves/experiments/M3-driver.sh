#!/usr/bin/env bash
# M3: the suite's per-request cells (draft_extend, extend; metadata kind), base (the tree with rx.diff reversed:
# 949a1a4's kernels) then the tree (786f9bd: the rows-before sum by 16-bit halves), each installed in turn on
# one machine.
set -u
R=$OUT/m3; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/m/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
ARGS="--modes draft_extend,extend --kinds metadata --minutes 1.5"
git apply -R .scratch/m/rx.diff && echo "reversed"
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip-base.txt 2>&1
echo "pip base rc=$? $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/base $ARGS > $R/suite-base.txt 2>&1
echo "suite base rc=$? $((SECONDS - t0)) s"
git apply .scratch/m/rx.diff && echo "applied"
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip-tree.txt 2>&1
echo "pip tree rc=$? $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/tree $ARGS > $R/suite-tree.txt 2>&1
echo "suite tree rc=$? $((SECONDS - t0)) s"
python3 bench/suite_must_show.py $R/tree $R/base | tee $R/must_show.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/m3.tgz -C $OUT m3
