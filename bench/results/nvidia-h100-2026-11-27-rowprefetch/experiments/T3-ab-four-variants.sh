#!/usr/bin/env bash
set -uo pipefail
W=/tmp/T3; rm -rf $W; mkdir -p $W/ab
pack() { tar -C /tmp -czf $OUT/T3.tgz T3 2>/dev/null; }
trap pack EXIT
tar -C .scratch/t3 -xJf .scratch/t3/vars.tar.xz
V="base pfrow pfrowcg pfidx"
for r in 1 2; do for v in $V; do
  .scratch/t3/$v/metadata --hold-cycles=100000 --json=$W/ab/$v-r$r.json > $W/ab/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
done; pack; done
for v in $V; do .scratch/t3/$v/metadata --json=$W/ab/idle-$v-r1.json > $W/ab/idle-$v-r1.md 2>&1 || echo "idle $v rc=$?"; done
echo "total $SECONDS s"
