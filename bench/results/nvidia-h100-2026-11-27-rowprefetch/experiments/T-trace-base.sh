#!/usr/bin/env bash
set -uo pipefail
W=/tmp/T; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/T.tgz T 2>/dev/null; }
trap pack EXIT
tar -C .scratch/t -xJf .scratch/t/tl.tar.xz
for c in extend-w4096-bs4-e16 draft_extend-w4096-bs16-n8 draft_extend-w4096-bs16 extend-w32768-bs4-e4 target_verify-w4096-bs4-n16 target_verify-w4096-bs16-n8 extend-w4096-bs16-e4; do
  for h in 100000 0; do
    .scratch/t/tl/metadata --no-verify --filter=$c --hold-cycles=$h --calls=100 --replays=50 > $W/$c-h$h.txt 2>&1 || echo "$c rc=$?"
  done
  pack
done
echo "total $SECONDS s"
