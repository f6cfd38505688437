#!/usr/bin/env bash
# K3 (H200): is the first-pass prefetch before the wait what fdiv's bs 16 per-request calls lose on? K2's 18 cases,
# up to six rounds in rotated order (the first verified): mend (HEAD), old (3cf17c3's kernels), pf8 (mend, no
# first-pass prefetch above 8 requests), oldpf8 (old, the same), pfdiv (mend with the prefetch's request by a plain
# division, as before fdiv; the copy's by the multiply-high).
set -uo pipefail
W=/tmp/K3; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/K3.tgz K3 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/kv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/k3.tar.xz; V=$V/k3
IDS=$(cat .scratch/h/k3_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 --replays=60"
vs=(mend old pf8 oldpf8 pfdiv)
for r in 1 2 3 4 5 6; do
  for i in 0 1 2 3 4; do
    v=${vs[$(( (i + r - 1) % 5 ))]}
    timeout 60 $V/$v $COMMON --cases=$IDS $([ $r -gt 1 ] && echo --no-verify) --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 \
      || echo "$v r$r rc=$?"
  done
  echo "round $r at $SECONDS s"; pack
  [ $SECONDS -gt 120 ] && break
done
echo "total $SECONDS s"
