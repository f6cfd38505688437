#!/bin/bash
# J1: copy rate by size and by walk; bench_metadata --large on the same machine.
set -x
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv
./.scratch/copy_sizes > $OUT/J1-copy_sizes.md 2>&1
./.scratch/specmeta_bench_metadata --large --json=$OUT/J1-large.json > $OUT/J1-large.md 2>&1
./.scratch/copy_sizes > $OUT/J1-copy_sizes-again.md 2>&1
cat $OUT/J1-copy_sizes.md; tail -n 60 $OUT/J1-large.md; cat $OUT/J1-copy_sizes-again.md
