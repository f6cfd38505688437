#!/usr/bin/env bash
# H4: bench_metadata's default cases on the H200 (925c6b9's binary, .scratch/h/n1.tar.xz; 3cf17c3's kernels are
# byte-identical), idle and behind the suite's device state; then write-only and copy bandwidth by size.
set -uo pipefail
W=/tmp/H4; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/H4.tgz H4 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/n1v; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/n1.tar.xz
timeout 120 $V/metadata --json=$W/bench_metadata.json > $W/bench_metadata.md 2> $W/bench_metadata.err
echo "default rc=$? at $SECONDS s" | tee -a $W/checks.txt; pack
timeout 120 $V/metadata --busy-streams=4 --hold-cycles=100000 --json=$W/bench_metadata_held.json \
  > $W/bench_metadata_held.md 2> $W/bench_metadata_held.err
echo "held rc=$? at $SECONDS s" | tee -a $W/checks.txt; pack
timeout 120 python3 bench/probes/write_bandwidth.py 17.27 30 64 146 512 1142 2048 > $W/write_bandwidth.txt 2>&1
echo "write_bandwidth rc=$? at $SECONDS s" | tee -a $W/checks.txt; cat $W/write_bandwidth.txt
echo "total $SECONDS s"
