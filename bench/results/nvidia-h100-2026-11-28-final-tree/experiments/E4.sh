#!/usr/bin/env bash
# E4 (seventeenth stop): own pages outside the high-occupancy kernel. sop: the streaming-store kernels store
# real_page_table from the copying threads' own columns (copy_request_rows<0, kStreaming, kStreaming>); aop: the
# plain kernels too. Same registers, no new spills (ptxas). Against base (925c6b9's kernels), on D7's streaming cells
# and D5's small ones, three rounds; --large once. Then aop's GoogleTest binary (its streaming kernels are sop's):
# every test, and memcheck over the copy-switch tests. Binaries built here: .scratch/h/e4.tar.xz.
set -uo pipefail
W=/tmp/E4; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/E4.tgz E4 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/e4v; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/e4.tar.xz
IDS=$(cat .scratch/h/e4_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 --replays=30"
for r in 1 2 3; do
  case $r in 1) order="base sop aop";; 2) order="aop base sop";; 3) order="sop aop base";; esac
  for v in $order; do $V/$v/metadata $COMMON --cases=$IDS --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 || echo "$v rc=$?"; done
  echo "round $r at $SECONDS s"; pack
done
for v in base sop aop; do
  $V/$v/metadata --large --busy-streams=4 --hold-cycles=100000 --calls=20 --replays=20 \
    --json=$W/$v-large-r1.json > $W/$v-large-r1.md 2>&1 || echo "$v large rc=$?"
  echo "$v large at $SECONDS s"; pack
done
timeout 230 $V/specmeta_tests_aop > $W/gtest-aop.txt 2>&1; echo "gtest aop rc=$? at $SECONDS s" | tee -a $W/checks.txt
tail -n 3 $W/gtest-aop.txt; pack
F='MetadataCudaTest.TableCopyThresholds:MetadataCudaTest.RowGroupLayouts:Modes/MetadataCuda.PageSizeKpoolTopk/*'
timeout $((520 - SECONDS)) compute-sanitizer --tool memcheck --error-exitcode 1 $V/specmeta_tests_aop \
  --gtest_filter="$F" > $W/memcheck-aop.txt 2>&1
echo "memcheck aop rc=$? at $SECONDS s" | tee -a $W/checks.txt; tail -n 2 $W/memcheck-aop.txt
echo "total $SECONDS s"
