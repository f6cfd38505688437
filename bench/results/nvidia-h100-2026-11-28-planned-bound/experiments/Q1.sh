#!/usr/bin/env bash
# Q1: the high-occupancy copy with four passes in flight. The test binary and the variants were built here
# (tests: this tree; variants: python3 bench/ab_variants.py build base=HEAD if5=TREE if6=... ifnp=... tgt=...,
# patches in experiments/Q1-*.diff) and carried in .scratch/h/q.tar.xz. GoogleTest on the GPU (every test), then
# memcheck and racecheck over PassesInFlight and HighOccupancyVariableRows, then bench_metadata behind the suite's
# state on P2's cases (the suite's lengths, pools of 4 rows) and on --large, the variants in turn.
set -uo pipefail
W=/tmp/Q1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/Q1.tgz Q1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/qv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/q.tar.xz
$V/specmeta_tests > $W/gtest.txt 2>&1; echo "gtest rc=$? at $SECONDS s" | tee -a $W/checks.txt
tail -n 3 $W/gtest.txt
F='MetadataCudaTest.PassesInFlight:MetadataCudaTest.HighOccupancyVariableRows'
compute-sanitizer --tool memcheck --error-exitcode 1 $V/specmeta_tests --gtest_filter=$F > $W/memcheck.txt 2>&1
echo "memcheck rc=$? at $SECONDS s" | tee -a $W/checks.txt
compute-sanitizer --tool racecheck --error-exitcode 1 $V/specmeta_tests --gtest_filter=MetadataCudaTest.PassesInFlight > $W/racecheck.txt 2>&1
echo "racecheck rc=$? at $SECONDS s" | tee -a $W/checks.txt
pack
IDS=$(cat .scratch/h/bound_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000"
for v in if5 base ifnp tgt if6; do
  extra=--no-verify; [ $v = if5 ] || [ $v = ifnp ] || [ $v = tgt ] && extra=
  $V/$v/metadata $COMMON --calls=40 --replays=30 --cases=$IDS $extra --json=$W/$v-r1.json > $W/$v-r1.md 2>&1 \
    || echo "$v cases rc=$?"
  echo "$v cases at $SECONDS s"; pack
done
for v in if5 base ifnp tgt if6; do
  [ $SECONDS -gt 520 ] && break
  $V/$v/metadata --large --busy-streams=4 --hold-cycles=100000 --calls=20 --replays=20 --no-verify \
    --json=$W/$v-large-r1.json > $W/$v-large-r1.md 2>&1 || echo "$v large rc=$?"
  echo "$v large at $SECONDS s"; pack
done
echo "total $SECONDS s"
