#!/usr/bin/env bash
# D3: the final tree (two passes in flight for per-request tables of two pairs on grids of up to 2048 blocks; the
# column helpers). GoogleTest binary and bench_metadata built here from the working tree and carried in
# .scratch/h/d3.tar.xz (with D1's base, 0a58dba); the Python package built on the device (pip, in the background).
# GoogleTest on the GPU; memcheck over the copy-order tests, racecheck, initcheck and synccheck over PassesInFlight;
# bench_metadata final against base, one round, on the rule's two sides.
set -uo pipefail
W=/tmp/D3; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/D3.tgz D3 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1 & pip_pid=$!
V=/tmp/d3v; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/d3.tar.xz
IDS=extend-w4096-bs1024-e4,draft_extend-w4096-bs1024-n4,extend-w8192-bs1024-e4,draft_extend-w32768-bs256-n4,extend-w1048576-bs4-e4,draft_extend-w8192-bs64,extend-w4096-bs4-e16
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 --replays=30"
for v in final base; do $V/$v/metadata $COMMON --cases=$IDS --json=$W/$v-r1.json > $W/$v-r1.md 2>&1 || echo "$v rc=$?"; done
echo "bench at $SECONDS s"
$V/specmeta_tests > $W/gtest.txt 2>&1; echo "gtest rc=$? at $SECONDS s" | tee -a $W/checks.txt
tail -n 3 $W/gtest.txt; pack
F='MetadataCudaTest.PassesInFlight:MetadataCudaTest.NextPassPrefetch:MetadataCudaTest.HighOccupancyVariableRows'
for tool in memcheck racecheck initcheck synccheck; do
  filter=MetadataCudaTest.PassesInFlight; [ $tool = memcheck ] && filter=$F
  compute-sanitizer --tool $tool --error-exitcode 1 $V/specmeta_tests --gtest_filter=$filter > $W/$tool.txt 2>&1
  echo "$tool rc=$? at $SECONDS s" | tee -a $W/checks.txt; tail -n 2 $W/$tool.txt; pack
done
wait $pip_pid; echo "pip rc=$? at $SECONDS s" | tee -a $W/checks.txt
python3 -c "import specmeta; print(specmeta.__file__)" >> $W/checks.txt 2>&1
echo "total $SECONDS s"
