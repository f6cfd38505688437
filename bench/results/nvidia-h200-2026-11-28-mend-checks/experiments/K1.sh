#!/usr/bin/env bash
# K1 (H200): why fdiv slowed the per-request row-group calls at bs 16 W 4096 (J1/J3 suite: extend bs 16 E 8
# 1.87 -> 2.00 us). Variants on 12 small cases in the suite's inputs and state, four rounds in rotated order (the
# first verified): mend (HEAD), old (3cf17c3's kernels: plain divisions), qdiv (HEAD with the request by a plain
# division), pagediv (HEAD with the page count by a division), both (qdiv and pagediv: HEAD's parameter layout,
# old's arithmetic).
set -uo pipefail
W=/tmp/K1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/K1.tgz K1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/kv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/k.tar.xz; V=$V/k
IDS=$(cat .scratch/h/k_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 --replays=60"
vs=(mend old qdiv pagediv both)
for r in 1 2 3 4; do
  for i in 0 1 2 3 4; do
    v=${vs[$(( (i + r - 1) % 5 ))]}
    timeout 60 $V/$v $COMMON --cases=$IDS $([ $r -gt 1 ] && echo --no-verify) --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 \
      || echo "$v r$r rc=$?"
  done
  echo "round $r at $SECONDS s"; pack
  [ $SECONDS -gt 250 ] && break
done
echo "total $SECONDS s"
