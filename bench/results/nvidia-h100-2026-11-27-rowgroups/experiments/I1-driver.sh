#!/usr/bin/env bash
# I1: row groups visit only their own (set, row) pairs (grp = the tree) against HEAD's kernels (base);
# CUDA gtests, a mutant (set offset ignored) against the new test, memcheck over the row-group tests, A/B.
set -u
cd "$(dirname "$0")/.."
R=$OUT/i1; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 14; } > $R/build.txt 2>&1
echo "build rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/build.txt
python3 bench/ab_variants.py build base=.scratch/ungrp.diff grp=TREE mutB=.scratch/mutB.diff > $R/variants.txt 2>&1 &
vpid=$!
T=build/cpp/tests/cpp/specmeta_tests
$T --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/tests.txt 2>&1
echo "gpu tests rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/tests.txt | head -5
wait $vpid; echo "variants rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/variants.txt
link=$(ninja -C build/cpp -t commands tests/cpp/specmeta_tests | tail -1)
link=${link// libspecmeta_core.a / var/mutB/lib.a }
link=${link//-o tests\/cpp\/specmeta_tests/-o var/mutB/tests}
(cd build/cpp && eval "$link") > $R/mut-link.txt 2>&1; echo "mutant link rc=$?"
build/cpp/var/mutB/tests --gtest_brief=1 --gtest_filter='*RowGroupsAcrossSets*' > $R/mutB-new.txt 2>&1
echo "mutB RowGroupsAcrossSets rc=$? (nonzero = caught)"; grep -m2 -E 'differ|Failure' $R/mutB-new.txt | cut -c1-160
build/cpp/var/mutB/tests --gtest_brief=1 --gtest_filter='MetadataCuda*RandomCases*:*RowGroupLayouts*:*TableCopyThresholds*' > $R/mutB-old.txt 2>&1
echo "mutB older tests rc=$? (nonzero = caught)"; grep -E '^\[  (PASSED|FAILED)' $R/mutB-old.txt | head -3
compute-sanitizer --tool memcheck --error-exitcode 1 $T --gtest_brief=1 \
  --gtest_filter='*RowGroupsAcrossSets*:*RowGroupLayouts*:*TableCopyThresholds*' > $R/memcheck.txt 2>&1
echo "memcheck rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/memcheck.txt
for r in 1 2 3; do
  for v in base grp; do build/cpp/var/$v/metadata --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
for v in base grp; do timeout 80 build/cpp/var/$v/metadata --large --calls=20 --replays=15 --json=$R/ab/$v-large-r1.json > /dev/null 2>&1 || echo "$v large failed"; done
python3 bench/ab_variants.py compare $R/ab base,grp | tee $R/default.md
python3 bench/ab_variants.py compare $R/ab base,grp --large > $R/large.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/i1.tgz -C $OUT i1
