#!/usr/bin/env bash
# F2: the whole suite again on another machine (the re-measures' second GPU run; kernels as 5c7a0b8), then
# bench_metadata behind --hold-cycles=100000 for the E1 binaries base and t512 (per-request target 512), two rounds
# each, alternately (E1 had no time left for them).
set -uo pipefail
W=/tmp/F2; rm -rf $W; mkdir -p $W/hold
pack() { tar -C /tmp -czf $OUT/F2.tgz F2 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
git log --oneline -1 > $W/tree.txt; git status --short | grep -v "^??" >> $W/tree.txt
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1; echo "pip rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
python3 bench/bench_suite.py --out $W/suite --minutes 3.0 > $W/suite.log 2>&1; echo "suite rc=$? at $((SECONDS-t0)) s" | tee -a $W/times.txt
pack
python3 bench/suite_must_show.py $W/suite > $W/must-show.md 2>&1; cat $W/must-show.md
V=.scratch/next/v; mkdir -p $V; tar -C $V -xJf .scratch/next/vars.tar.xz
for r in 1 2; do
  for v in base t512; do
    [ $SECONDS -gt 560 ] && break
    $V/$v/metadata --hold-cycles=100000 --json=$W/hold/$v-r$r.json > $W/hold/$v-r$r.md 2>&1 || echo "$v hold rc=$?"
  done
done
echo "total $((SECONDS-t0)) s"
