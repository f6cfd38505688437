#!/usr/bin/env bash
# R1 (exploratory, nothing kept): per-request tables laid out a block per four passes and taking the passes in
# flight before the next-pass prefetch, at one pair per request on average (prl) and at two (pr2), against this
# stop's kept kernels (base = 1ae6993's tree). Variants built here (python3 bench/ab_variants.py build base=HEAD
# prl=... pr2=..., patches in experiments/R1-*.diff) and carried in .scratch/h/r1.tar.xz. bench_metadata on P2's
# cases plus extend-w1048576-bs4-e4 (experiments/R1-cases.txt), the suite's lengths and state; then --large.
# No GPU tests ran on these variants: their outputs are checked only by bench_metadata's verification.
set -uo pipefail
W=/tmp/R1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/R1.tgz R1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/rv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/r1.tar.xz
IDS=$(cat .scratch/h/bound_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000"
for v in prl base pr2; do
  extra=--no-verify; [ $v != base ] && extra=
  $V/$v/metadata $COMMON --calls=40 --replays=30 --cases=$IDS $extra --json=$W/$v-r1.json > $W/$v-r1.md 2>&1 \
    || echo "$v cases rc=$?"
  echo "$v cases at $SECONDS s"; pack
done
for v in prl base pr2; do
  [ $SECONDS -gt 150 ] && break
  $V/$v/metadata --large --busy-streams=4 --hold-cycles=100000 --calls=20 --replays=20 --no-verify \
    --json=$W/$v-large-r1.json > $W/$v-large-r1.md 2>&1 || echo "$v large rc=$?"
  echo "$v large at $SECONDS s"; pack
done
echo "total $SECONDS s"
