#!/usr/bin/env bash
# E3 (H100): install, C++ build, the old row-group rule against the new (bench_metadata rounds), the suite.
set -u
cd "$(dirname "$0")/.."
R=$OUT/e3; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1 &
ppid=$!
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 10 --target specmeta_bench_metadata specmeta_bench_graph; } > $R/build.txt 2>&1
echo "build rc=$? $((SECONDS - t0)) s"
python3 bench/ab_variants.py build old=.scratch/old.diff new=TREE > $R/variants.txt 2>&1
echo "variants rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/variants.txt
wait $ppid; echo "pip rc=$? $((SECONDS - t0)) s"
for r in 1 2; do
  for v in old new; do build/cpp/var/$v/metadata --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab old,new | tee $R/default.md
build/cpp/var/new/metadata --json=$R/bench_metadata.json > $R/bench_metadata.md 2>&1
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/suite.txt
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/e3.tgz -C $OUT e3
