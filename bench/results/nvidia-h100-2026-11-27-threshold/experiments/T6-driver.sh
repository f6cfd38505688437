#!/usr/bin/env bash
set -uo pipefail
W=/tmp/q6; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/q6.tgz q6 2>/dev/null; }
trap pack EXIT
bash scripts/gpu-check.sh $W/gc main-job example-adapter sanitizer-soak > $W/gc.log 2>&1; echo "gc rc=$? $SECONDS s"
grep -E '^\| [a-z-]+ \|' $W/gc/summary.md
build/cpp/bench/specmeta_bench_metadata --json=$W/bench_metadata.json > $W/bench_metadata.md 2>&1; echo "bench rc=$?"
build/cpp/bench/specmeta_bench_metadata --hold-cycles=100000 --json=$W/bench_metadata_hold.json > $W/bench_metadata_hold.md 2>&1; echo "hold rc=$? $SECONDS s"
pack
if [ $SECONDS -lt 300 ]; then
  timeout $((570 - SECONDS)) python3 bench/bench_suite.py --out $W/suite --minutes 3.0 > $W/suite.log 2>&1; echo "suite rc=$? $SECONDS s"
  pack
  python3 bench/suite_must_show.py $W/suite
fi
echo "total $SECONDS s"
