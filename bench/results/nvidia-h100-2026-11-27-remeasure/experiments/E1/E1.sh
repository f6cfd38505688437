#!/usr/bin/env bash
# E1 (prepared at 4de7563; binaries in vars.tar.xz built from HEAD + each patch): base; hiocc (the high-occupancy
# kernel sums before its first loads again, the per-request target kept); t512 (per-request target 512);
# s5 (streaming tables of large grids in a kernel of 5 blocks per SM, 48 registers, 32-76 bytes of spills).
# bench_metadata --large every case once, the default cases behind the hold once, then the large again.
set -uo pipefail
W=/tmp/E1; rm -rf $W; mkdir -p $W/large $W/hold $W/large2
pack() { tar -C /tmp -czf $OUT/E1.tgz E1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=.scratch/next/v; mkdir -p $V; tar -C $V -xJf .scratch/next/vars.tar.xz
for v in base hiocc t512 s5; do
  $V/$v/metadata --large --json=$W/large/$v-large-r1.json > $W/large/$v-large-r1.md 2>&1 || echo "$v large rc=$?"
  echo "$v large at $SECONDS s"; pack
done
for v in base hiocc t512 s5; do
  [ $SECONDS -gt 540 ] && break
  $V/$v/metadata --hold-cycles=100000 --json=$W/hold/$v-r1.json > $W/hold/$v-r1.md 2>&1 || echo "$v hold rc=$?"
done
echo "total $SECONDS s"
