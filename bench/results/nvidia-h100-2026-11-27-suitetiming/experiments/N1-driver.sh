#!/usr/bin/env bash
# N1 (tree: HEAD b307737 + the pinned RowSumsPast16Bits + whole-round graph R in the suite, uncommitted):
# RowSumsPast16Bits against mutants m1 (high halves dropped) and m2 (no stop at the capacity) and base;
# memcheck of base over it; then the whole suite installed from the tree (new R sizing), must-show counts vs M5.
set -u
R=$OUT/n1; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/m/commit.txt) + working tree"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
mkdir -p .scratch/var && tar -xJf .scratch/m/vars.tar.xz -C .scratch/var || exit 1
for v in m1 m2 base; do
  timeout 60 .scratch/var/$v/tests --gtest_brief=1 --gtest_filter='*RowSumsPast16Bits*' > $R/$v-rowsums.txt 2>&1
  echo "$v RowSumsPast16Bits rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/$v-rowsums.txt | head -3; grep -m1 -E 'metadata_suites.h:[0-9]+' $R/$v-rowsums.txt | cut -c1-220
done
for tool in memcheck racecheck; do
  timeout 60 compute-sanitizer --tool $tool --error-exitcode 1 .scratch/var/base/tests --gtest_brief=1 --gtest_filter='*Cuda*RowSumsPast16Bits*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/$tool.txt
done
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1
echo "pip rc=$? $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/suite.txt
python3 bench/suite_must_show.py $R/suite bench/results/nvidia-h100-2026-11-27-rowsumhalves/suite | tee $R/must_show.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/n1.tgz -C $OUT n1
