#!/usr/bin/env bash
set -uo pipefail
W=/tmp/q2; rm -rf $W; mkdir -p $W/ab
[ -x .scratch/m/base/metadata ] || tar -C .scratch/m -xJf .scratch/m/vars.tar.xz
t0=$SECONDS
for r in 1 2; do
  for v in base t2 t4 t8; do
    .scratch/m/$v/metadata --hold-cycles=100000 --json=$W/ab/$v-r$r.json > $W/ab/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
  done
done
for v in base t2 t4 t8; do
  .scratch/m/$v/metadata --json=$W/ab/nohold-$v-r1.json > $W/ab/nohold-$v-r1.md 2>&1 || echo "nohold $v rc=$?"
done
echo "ab $((SECONDS - t0)) s"
tar -C $W -czf $OUT/ab.tgz ab
bash scripts/gpu-check.sh $W/gc2 sanitizer-memcheck sanitizer-initcheck sanitizer-synccheck soak sanitizer-soak sanitizer-buffers main-job example-adapter > $W/gc2.log 2>&1; echo "gc2 rc=$?"
tail -22 $W/gc2/summary.md
tar -C $W -czf $OUT/gc2.tgz gc2 gc2.log
echo "total $SECONDS s"
