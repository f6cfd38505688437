#!/usr/bin/env bash
# H3: own pages in the high-occupancy copy only (own2 = the tree) against HEAD's kernels (base);
# CUDA gtests and memcheck on the tree; a mutant (own page stored past the live prefix) against the tests.
set -u
cd "$(dirname "$0")/.."
R=$OUT/h3; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 14; } > $R/build.txt 2>&1
echo "build rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/build.txt
python3 bench/ab_variants.py build base=.scratch/base.diff own2=TREE mutA=.scratch/mutA.diff > $R/variants.txt 2>&1 &
vpid=$!
build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/tests.txt 2>&1
echo "gpu tests rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/tests.txt | head -5
wait $vpid; echo "variants rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/variants.txt
link=$(ninja -C build/cpp -t commands tests/cpp/specmeta_tests | tail -1)
link=${link// libspecmeta_core.a / var/mutA/lib.a }
link=${link//-o tests\/cpp\/specmeta_tests/-o var/mutA/tests}
(cd build/cpp && eval "$link") > $R/mut-link.txt 2>&1; echo "mutant link rc=$?"
build/cpp/var/mutA/tests --gtest_brief=1 --gtest_filter='*HighOccupancyPageSizes*:*TableCopyThresholds*' > $R/mutA-tests.txt 2>&1
echo "mutA tests rc=$? (nonzero = caught)"; grep -E '^\[  (PASSED|FAILED)' $R/mutA-tests.txt | head -4
compute-sanitizer --tool memcheck --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
  --gtest_filter='*HighOccupancyPageSizes*:*TableCopyThresholds*:*MetadataCuda.PageSizeKpoolTopk*' > $R/memcheck.txt 2>&1
echo "memcheck rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/memcheck.txt
for r in 1 2; do
  for v in base own2; do build/cpp/var/$v/metadata --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  for v in base own2; do timeout 80 build/cpp/var/$v/metadata --large --calls=20 --replays=15 --json=$R/ab/$v-large-r$r.json > /dev/null 2>&1 || echo "$v large r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab base,own2 | tee $R/default.md
python3 bench/ab_variants.py compare $R/ab base,own2 --large | tee $R/large.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/h3.tgz -C $OUT h3
