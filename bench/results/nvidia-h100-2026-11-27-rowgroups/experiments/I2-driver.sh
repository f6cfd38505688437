#!/usr/bin/env bash
# I2 (the tree): install + build, the mutant (set offset ignored) against RowGroupsAcrossSets and older tests,
# the stream-state probe, bench_metadata default, the suite with size-matched copies, the must-show counts.
set -u
cd "$(dirname "$0")/.."
R=$OUT/i2; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1 &
ppid=$!
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 12; } > $R/build.txt 2>&1
echo "build rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/build.txt
python3 bench/ab_variants.py build mutB=.scratch/mutB.diff > $R/variants.txt 2>&1
echo "variants rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/variants.txt
link=$(ninja -C build/cpp -t commands tests/cpp/specmeta_tests | tail -1)
link=${link// libspecmeta_core.a / var/mutB/lib.a }
link=${link//-o tests\/cpp\/specmeta_tests/-o var/mutB/tests}
(cd build/cpp && eval "$link") > $R/mut-link.txt 2>&1; echo "mutant link rc=$?"
build/cpp/var/mutB/tests --gtest_brief=1 --gtest_filter='*RowGroupsAcrossSets*' > $R/mutB-new.txt 2>&1
echo "mutB RowGroupsAcrossSets rc=$? (nonzero = caught)"; grep -m2 -E 'differ|Failure' $R/mutB-new.txt | cut -c1-160
build/cpp/var/mutB/tests --gtest_brief=1 --gtest_filter='MetadataCuda*RandomCases*:*RowGroupLayouts*:*TableCopyThresholds*' > $R/mutB-old.txt 2>&1
echo "mutB older tests rc=$? (nonzero = caught)"; grep -E '^\[  (PASSED|FAILED)' $R/mutB-old.txt | head -3
./.scratch/stream_state > $R/stream_state.md 2>&1; echo "stream_state rc=$?"
build/cpp/bench/specmeta_bench_metadata --json=$R/bench_metadata.json > $R/bench_metadata.md 2>&1
echo "bench_metadata rc=$? $((SECONDS - t0)) s"
wait $ppid; echo "pip rc=$? $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/suite.txt
python3 bench/suite_must_show.py $R/suite bench/results/nvidia-h100-2026-11-27-ownpages/suite | tee $R/must_show.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/i2.tgz -C $OUT i2
