#!/usr/bin/env bash
# I3 (the tree): a mutant whose later sets' first row is not reduced modulo the groups, against
# RowGroupsAcrossSets and the older tests; racecheck and synccheck over the row-group tests.
set -u
cd "$(dirname "$0")/.."
R=$OUT/i3; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 14; } > $R/build.txt 2>&1
echo "build rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/build.txt
python3 bench/ab_variants.py build mutC=.scratch/mutC.diff > $R/variants.txt 2>&1 &
vpid=$!
T=build/cpp/tests/cpp/specmeta_tests
$T --gtest_brief=1 --gtest_filter='*RowGroup*' > $R/tests.txt 2>&1
echo "row-group tests rc=$?"; grep -E '^\[  (PASSED|FAILED)' $R/tests.txt | head -3
for tool in racecheck synccheck; do
  compute-sanitizer --tool $tool --error-exitcode 1 $T --gtest_brief=1 --gtest_filter='*RowGroupsAcrossSets*:*RowGroupLayouts*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/$tool.txt
done
wait $vpid; echo "variants rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/variants.txt
link=$(ninja -C build/cpp -t commands tests/cpp/specmeta_tests | tail -1)
link=${link// libspecmeta_core.a / var/mutC/lib.a }
link=${link//-o tests\/cpp\/specmeta_tests/-o var/mutC/tests}
(cd build/cpp && eval "$link") > $R/mut-link.txt 2>&1; echo "mutant link rc=$?"
build/cpp/var/mutC/tests --gtest_brief=1 --gtest_filter='*RowGroupsAcrossSets*' > $R/mutC-new.txt 2>&1
echo "mutC RowGroupsAcrossSets rc=$? (nonzero = caught)"; grep -m2 -E 'differ|Failure' $R/mutC-new.txt | cut -c1-200
build/cpp/var/mutC/tests --gtest_brief=1 --gtest_filter='MetadataCuda*RandomCases*:*RowGroupLayouts*:*TableCopyThresholds*' > $R/mutC-old.txt 2>&1
echo "mutC older tests rc=$? (nonzero = caught)"; grep -E '^\[  (PASSED|FAILED)' $R/mutC-old.txt | head -8
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/i3.tgz -C $OUT i3
