#!/usr/bin/env bash
# Q3 (tree 162fac6): build, then in parallel [ctest, memcheck, initcheck, synccheck, soak, sanitizer-soak,
# main-job, example-adapter, sanitizer-buffers] and racecheck over the builder's CUDA tests; then benches alone.
set -uo pipefail
W=/tmp/q3; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/q3.tgz q3 2>/dev/null; }
trap pack EXIT
git log --oneline -1 > $W/commit.txt; git status --short >> $W/commit.txt
bash scripts/gpu-check.sh $W/gcA > $W/gcA.log 2>&1 build-only-none; echo "build rc=$? $SECONDS s"
pack
bash scripts/gpu-check.sh $W/gcB ctest sanitizer-memcheck sanitizer-initcheck sanitizer-synccheck soak sanitizer-soak main-job example-adapter > $W/gcB.log 2>&1 &
pb=$!
( start=$SECONDS
  compute-sanitizer --tool racecheck --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
    --gtest_filter='MetadataCudaTest.*:Modes/MetadataCuda.*' > $W/racecheck.txt 2>&1
  echo "racecheck rc=$? $((SECONDS - start)) s" >> $W/racecheck.txt ) &
pr=$!
wait $pb; echo "gcB rc=$? $SECONDS s"; pack
wait $pr; tail -3 $W/racecheck.txt; echo "race done $SECONDS s"; pack
tail -16 $W/gcB/summary.md
build/cpp/bench/specmeta_bench_metadata --json=$W/bench_metadata.json > $W/bench_metadata.md 2>&1; echo "bench rc=$?"
build/cpp/bench/specmeta_bench_metadata --hold-cycles=100000 --json=$W/bench_metadata_hold.json > $W/bench_metadata_hold.md 2>&1; echo "hold rc=$?"
build/cpp/bench/specmeta_bench_graph > $W/bench_graph.md 2>&1; echo "graph rc=$?"
pack
if [ $SECONDS -lt 470 ]; then
  timeout $((560 - SECONDS)) bash scripts/gpu-check.sh $W/gcC sanitizer-buffers > $W/gcC.log 2>&1; echo "gcC rc=$? $SECONDS s"
fi
echo "total $SECONDS s"
