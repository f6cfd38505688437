#!/usr/bin/env bash
# N1b = N1 on an H200, after a --large round (prepared in the seventeenth stop, not run): Nsight Compute on the builder's page-table kernel against the
# lean copies of the same bytes (bench_metadata --bound), on the cells where the lean copy is much faster
# (uniform N 4 and per-request E 8 at bs 1024 W 4096) and one where it is not (target_verify N 16). The binary is
# 925c6b9's bench_metadata (.scratch/h/n1.tar.xz). One ncu run per (case, kernel): the builder's expand_kernel
# (mangled 'expand_kernelI', not the high-occupancy one), the bound (host_planned_kernel<2, true, false>) and the
# per-block one-pass copy (per_block_kernel<1, true>), two launches each, --set full, clocks left alone. About
# 2-4 minutes expected (not timed: ncu replays each kernel's memory for every pass).
set -uo pipefail
W=/tmp/N1; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/N1.tgz N1 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
ncu --version > $W/ncu-version.txt 2>&1
V=/tmp/n1v; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/n1.tar.xz
# The SASS of every kernel in the binary (no cuobjdump on the development machine), for reading offline.
# H200 first look: the large cells of the builder (one round), with the in-process copy reference.
timeout 150 $V/metadata --large --suite-lengths --pool-rows=4 --busy-streams=4 --hold-cycles=100000 --calls=40 \
  --replays=30 --json=$W/large.json > $W/large.md 2> $W/large.err; echo "large rc=$? at $SECONDS s" | tee -a $W/checks.txt
pack
cuobjdump -sass $V/metadata 2> $W/sass.err | gzip -9 > $W/metadata.sass.gz
declare -A K=([builder]='regex:expand_kernelI' [bound]='regex:host_planned_kernelILi2ELb1ELb0E'
              [perblock]='regex:per_block_kernelILi1ELb1E')
for c in target_verify-w4096-bs1024-n4 extend-w4096-bs1024-e8 target_verify-w4096-bs1024-n16; do
  for k in builder bound perblock; do
    [ $SECONDS -gt 500 ] && { echo "out of time before $c $k"; break 2; }
    timeout 90 ncu --clock-control none --kernel-name-base mangled -k "${K[$k]}" --launch-count 2 --set full \
      -f -o $W/$c-$k $V/metadata --suite-lengths --pool-rows=4 --bound --no-verify --cases=$c --calls=2 \
      --replays=1 > $W/$c-$k.log 2>&1
    echo "$c $k rc=$? at $SECONDS s" | tee -a $W/checks.txt
    ncu --import $W/$c-$k.ncu-rep --page details --csv > $W/$c-$k.csv 2>> $W/$c-$k.log
    pack
  done
done
echo "total $SECONDS s"
