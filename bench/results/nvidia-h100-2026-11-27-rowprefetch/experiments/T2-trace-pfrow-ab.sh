#!/usr/bin/env bash
set -uo pipefail
W=/tmp/T2; rm -rf $W; mkdir -p $W/ab
pack() { tar -C /tmp -czf $OUT/T2.tgz T2 2>/dev/null; }
trap pack EXIT
tar -C .scratch/t2 -xJf .scratch/t2/vars.tar.xz
for c in extend-w4096-bs4-e16 draft_extend-w4096-bs16-n8 extend-w32768-bs4-e4 target_verify-w4096-bs4-n16; do
  .scratch/t2/tlpf/metadata --no-verify --filter=$c --hold-cycles=100000 --calls=100 --replays=50 > $W/trace-$c.txt 2>&1 || echo "$c rc=$?"
done
pack
for r in 1 2; do for v in base pfrow; do
  .scratch/t2/$v/metadata --hold-cycles=100000 --json=$W/ab/$v-r$r.json > $W/ab/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
done; pack; done
for v in base pfrow; do .scratch/t2/$v/metadata --json=$W/ab/idle-$v-r1.json > $W/ab/idle-$v-r1.md 2>&1 || echo "idle $v rc=$?"; done
echo "total $SECONDS s"
