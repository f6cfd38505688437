#!/usr/bin/env bash
# I3: the per-request next-pass prefetch on the suite's shapes where it is on (48 cases, up to 260 MB),
# same machine: base (3c45948's kernels: no prefetch code), off (this tree with the per-request prefetch
# turned off by the rule, experiments/I3-off.diff: the code, not run) and cand (this tree). Variants built
# here with ab_variants.py, carried in .scratch/h/vars4.tar.xz; three rounds in turn, cand's first verified.
set -uo pipefail
W=/tmp/I3; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/I3.tgz I3 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/iv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/vars4.tar.xz
IDS=$(cat .scratch/h/ids.txt)
for r in 1 2 3; do
  for v in cand off base; do
    [ $SECONDS -gt 400 ] && break 2
    extra=--no-verify; [ $r = 1 ] && [ $v = cand ] && extra=
    $V/$v/metadata --replays=60 --cases=$IDS --json=$W/$v-large-r$r.json $extra > $W/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
    echo "$v r$r at $SECONDS s"; pack
  done
done
echo "total $SECONDS s"
