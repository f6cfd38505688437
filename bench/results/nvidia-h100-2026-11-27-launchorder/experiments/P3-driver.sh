#!/usr/bin/env bash
# P3 (tree 84a5b2f: HEAD kernels, suite timing of 0794b35): the package installed, the suite-timing GPU test,
# the whole suite and its must-show counts against N8. Then, time allowing, bench_metadata default for
# base, uA (uniform-qo grids let the next launch before their wait) and uB (the same from bs 8), each with
# and without --hold-cycles=100000.
set -u
R=$OUT/p3; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1
echo "pip rc=$? $((SECONDS - t0)) s"
timeout 120 python3 -m pytest -q -rs tests/python/test_suite_timing_gpu.py > $R/timing-test.txt 2>&1
echo "timing test rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/timing-test.txt
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/suite.txt
python3 bench/suite_must_show.py $R/suite bench/results/nvidia-h100-2026-11-27-suitetiming/suite | tee $R/must_show.md
tar -czf $OUT/p3-suite.tgz -C $OUT p3
mkdir -p .scratch/var && tar -xJf .scratch/m/vars.tar.xz -C .scratch/var
for h in 100000 0; do
  for v in base uA uB; do
    if [ $((SECONDS - t0)) -gt 500 ]; then echo "skip $v h$h (time)"; continue; fi
    n=$v; [ $h = 0 ] && n=${v}nohold
    timeout 60 .scratch/var/$v --hold-cycles=$h --json=$R/ab/$n-r1.json > /dev/null 2>&1 || echo "$v h$h failed"
  done
done
python3 bench/ab_variants.py compare $R/ab base,uA,uB > $R/uniform-hold.md 2>&1; cat $R/uniform-hold.md
python3 bench/ab_variants.py compare $R/ab basenohold,uAnohold,uBnohold > $R/uniform-nohold.md 2>&1; cat $R/uniform-nohold.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/p3.tgz -C $OUT p3
