#!/usr/bin/env bash
# N2: where the builder's page-table blocks spend their cycles against the lean per-block copy (H200): Nsight
# Compute source counters (per-SASS-instruction warp stall samples) and the raw metrics, for uniform N 4 and
# extend E 8 at bs 1024 W 4096 (925c6b9's bench_metadata, .scratch/h/n1.tar.xz; N1 has the details pages).
set -uo pipefail
W=/tmp/N2; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/N2.tgz N2 2>/dev/null; }
trap pack EXIT
V=/tmp/n1v; rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/n1.tar.xz
declare -A K=([builder]='regex:expand_kernelI' [perblock]='regex:per_block_kernelILi1ELb1E')
for c in target_verify-w4096-bs1024-n4 extend-w4096-bs1024-e8; do
  for k in builder perblock; do
    timeout 90 ncu --clock-control none --kernel-name-base mangled -k "${K[$k]}" --launch-skip 1 --launch-count 1 \
      --set full -f -o $W/$c-$k $V/metadata --suite-lengths --pool-rows=4 --bound \
      --no-verify --cases=$c --calls=2 --replays=1 > $W/$c-$k.log 2>&1
    echo "$c $k rc=$? at $SECONDS s" | tee -a $W/checks.txt
    ncu --import $W/$c-$k.ncu-rep --page raw --csv > $W/$c-$k-raw.csv 2>> $W/$c-$k.log
    ncu --import $W/$c-$k.ncu-rep --page source --csv --print-source sass > $W/$c-$k-sass.csv 2>> $W/$c-$k.log \
      || ncu --import $W/$c-$k.ncu-rep --page source --csv > $W/$c-$k-sass.csv 2>> $W/$c-$k.log
    echo "exported rc=$? $(wc -c < $W/$c-$k-sass.csv) bytes" | tee -a $W/checks.txt
    rm -f $W/$c-$k.ncu-rep; pack
  done
done
ncu --help > $W/ncu-help.txt 2>&1
echo "total $SECONDS s"
