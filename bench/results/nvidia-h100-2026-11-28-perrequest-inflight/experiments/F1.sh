#!/usr/bin/env bash
# F1: the kept tree (a08b86b): per-request passes in flight for 4 blocks per SM, the sum's early loads in the
# large-batch kernels, in flight before the prefetch. Test binary and bench_metadata (new = this tree, base =
# 0fb25ba) built here and carried in .scratch/h/f1.tar.xz; the Python package built on the device (pip, in the
# background). GoogleTest on the GPU; memcheck, racecheck, initcheck and synccheck over the copy-order tests;
# bench_metadata base and new on S2's cases (two rounds) and --large; the Python tests (GPU ones included).
set -uo pipefail
W=/tmp/F1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/F1.tgz F1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & pip_pid=$!
V=/tmp/fv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/f1.tar.xz
$V/specmeta_tests > $W/gtest.txt 2>&1; gt=$?; echo "gtest rc=$gt at $SECONDS s" | tee -a $W/checks.txt
tail -n 3 $W/gtest.txt
F='MetadataCudaTest.PassesInFlight:MetadataCudaTest.NextPassPrefetch:MetadataCudaTest.HighOccupancyVariableRows'
for tool in memcheck initcheck synccheck racecheck; do
  filter=$F; [ $tool = racecheck ] && filter=MetadataCudaTest.PassesInFlight
  compute-sanitizer --tool $tool --error-exitcode 1 $V/specmeta_tests --gtest_filter=$filter > $W/$tool.txt 2>&1
  echo "$tool rc=$? at $SECONDS s" | tee -a $W/checks.txt; tail -n 2 $W/$tool.txt; pack
done
IDS=$(cat .scratch/h/s2_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000"
for r in 1 2; do
  for v in new base; do
    $V/$v/metadata $COMMON --calls=40 --replays=30 --cases=$IDS --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 \
      || echo "$v cases rc=$?"
    echo "$v r$r at $SECONDS s"
  done
done
for v in new base; do
  $V/$v/metadata --large --busy-streams=4 --hold-cycles=100000 --calls=20 --replays=20 \
    --json=$W/$v-large-r1.json > $W/$v-large-r1.md 2>&1 || echo "$v large rc=$?"
  echo "$v large at $SECONDS s"; pack
done
wait $pip_pid; echo "pip rc=$? at $SECONDS s" | tee -a $W/checks.txt
timeout $((560 - SECONDS)) python3 -m pytest -q -rs -p no:cacheprovider tests/python > $W/pytest.txt 2>&1
echo "pytest rc=$? at $SECONDS s" | tee -a $W/checks.txt; tail -n 5 $W/pytest.txt
echo "total $SECONDS s"
