#!/usr/bin/env bash
# Next session's first A/B: base vs pfrr vs pfreq (.scratch/o/pf*.diff), bench_metadata default (it verifies
# every output), behind --hold-cycles=100000 two rounds, idle one round; every output packed into one archive
# as it is written (a call returns at most 8 files). Binaries: build locally with
#   python3 bench/ab_variants.py build base=HEAD pfrr=.scratch/o/pfrr.diff pfreq=.scratch/o/pfreq.diff
# then strip build/cpp/var/V/metadata into .scratch/m/pack/V/ and tar -cJf .scratch/m/vars.tar.xz -C .scratch/m/pack .
set -uo pipefail
W=/tmp/ab; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/ab.tgz ab 2>/dev/null; }
trap pack EXIT
tar -C .scratch/m -xJf .scratch/m/vars.tar.xz
V="base pfrr pfreq"
for r in 1 2; do for v in $V; do
  .scratch/m/$v/metadata --hold-cycles=100000 --json=$W/$v-r$r.json > $W/$v-r$r.md 2>&1 || echo "$v r$r rc=$?"
done; pack; done
for v in $V; do .scratch/m/$v/metadata --json=$W/idle-$v-r1.json > $W/idle-$v-r1.md 2>&1 || echo "idle $v rc=$?"; done
echo "total $SECONDS s"
