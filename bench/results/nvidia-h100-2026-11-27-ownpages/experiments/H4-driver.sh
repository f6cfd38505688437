#!/usr/bin/env bash
# H4 (tree cf8d424): install + build, the CUDA gtests, the mutant against HighOccupancyPageSizes, memcheck and
# initcheck over the table-copy tests, then (quiet) the suite and bench_metadata default + --large.
set -u
cd "$(dirname "$0")/.."
R=$OUT/h4; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1 &
ppid=$!
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 12; } > $R/build.txt 2>&1
echo "build rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/build.txt
python3 bench/ab_variants.py build mutA=.scratch/mutA.diff > $R/variants.txt 2>&1 &
vpid=$!
T=build/cpp/tests/cpp/specmeta_tests
$T --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/tests.txt 2>&1
echo "gpu tests rc=$? $((SECONDS - t0)) s"; grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/tests.txt | head -5
wait $vpid; echo "variants rc=$? $((SECONDS - t0)) s"
link=$(ninja -C build/cpp -t commands tests/cpp/specmeta_tests | tail -1)
link=${link// libspecmeta_core.a / var/mutA/lib.a }
link=${link//-o tests\/cpp\/specmeta_tests/-o var/mutA/tests}
(cd build/cpp && eval "$link") > $R/mut-link.txt 2>&1; echo "mutant link rc=$?"
build/cpp/var/mutA/tests --gtest_brief=1 --gtest_filter='*HighOccupancyPageSizes*' > $R/mutA-tests.txt 2>&1
echo "mutA HighOccupancyPageSizes rc=$? (nonzero = caught)"; grep -m2 -E 'differ|Failure' $R/mutA-tests.txt | cut -c1-160
for tool in memcheck initcheck; do
  compute-sanitizer --tool $tool --error-exitcode 1 $T --gtest_brief=1 \
    --gtest_filter='*HighOccupancyPageSizes*:*TableCopyThresholds*:*LargeTableSpread*:*MetadataCuda.PageSizeKpoolTopk*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 1 $R/$tool.txt
done
wait $ppid; echo "pip rc=$? $((SECONDS - t0)) s"
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/suite.txt
python3 bench/suite_must_show.py $R/suite bench/results/nvidia-h100-2026-11-27-repeatpath/suite | tee $R/must_show.md
build/cpp/bench/specmeta_bench_metadata --json=$R/bench_metadata.json > $R/bench_metadata.md 2>&1
echo "bench_metadata rc=$? $((SECONDS - t0)) s"
timeout 90 build/cpp/bench/specmeta_bench_metadata --large --calls=20 --replays=15 --json=$R/bench_metadata_large.json > $R/bench_metadata_large.md 2>&1
echo "bench_metadata --large rc=$? $((SECONDS - t0)) s"
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/h4.tgz -C $OUT h4
