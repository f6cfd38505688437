#!/usr/bin/env bash
# K2 (H200): does the row-group layout still serve small per-request calls after fdiv? 18 cases (K1's 12 and six
# larger per-request ones) in the suite's inputs and state, four rounds in rotated order (the first verified):
# mend (HEAD), old (3cf17c3's kernels), norg (HEAD, per-request calls never in row groups), oldnorg (old, the same).
set -uo pipefail
W=/tmp/K2; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/K2.tgz K2 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/kv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/k2.tar.xz; V=$V/k2
IDS=$(cat .scratch/h/k2_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 --replays=60"
vs=(mend old norg oldnorg)
for r in 1 2 3 4; do
  for i in 0 1 2 3; do
    v=${vs[$(( (i + r - 1) % 4 ))]}
    timeout 60 $V/$v $COMMON --cases=$IDS $([ $r -gt 1 ] && echo --no-verify) --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 \
      || echo "$v r$r rc=$?"
  done
  echo "round $r at $SECONDS s"; pack
  [ $SECONDS -gt 250 ] && break
done
echo "total $SECONDS s"
