#!/usr/bin/env bash
# S3: S2's pr4 against forms of it: pr4b (the sum's early loads without the block-has-a-pass branch), pr4c (early
# loads only in the kernels for batches over 256 requests, ho4's code below), w2f (pr4 with per-request tables of
# up to two pairs taking passes in flight before the next-pass prefetch); base = HEAD, ho4 from S1.
# bench_metadata on S2's cases, the suite's lengths and state, three rounds interleaved.
set -uo pipefail
W=/tmp/S3; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/S3.tgz S3 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
V=/tmp/sv; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/s3.tar.xz
IDS=$(cat .scratch/h/s2_ids.txt)
COMMON="--suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 --replays=30"
for r in 1 2 3; do
  for v in base pr4 pr4b pr4c w2f ho4; do
    extra=
    $V/$v/metadata $COMMON --cases=$IDS $extra --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
    echo "$v r$r at $SECONDS s"; pack
  done
done
echo "total $SECONDS s"
