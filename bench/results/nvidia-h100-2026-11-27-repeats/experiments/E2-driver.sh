#!/usr/bin/env bash
# E2: install, C++ build, CUDA tests, the old row-group rule against the new (bench_metadata rounds),
# then the suite on the final tree (quiet machine), then a short soak if time is left.
set -u
cd "$(dirname "$0")/.."
R=$OUT/e2; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1 &
ppid=$!
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 10; } > $R/build.txt 2>&1
echo "build rc=$? $((SECONDS - t0)) s"
wait $ppid; echo "pip rc=$? $((SECONDS - t0)) s"
python3 bench/ab_variants.py build old=.scratch/old.diff new=TREE > $R/variants.txt 2>&1 &
vpid=$!
build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/tests.txt 2>&1
echo "gpu tests rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/tests.txt
python3 -m pytest -q -p no:cacheprovider tests/python/test_metadata_repeats.py tests/python/test_metadata_gpu.py -k "repeat or page or table" > $R/pytest.txt 2>&1
echo "pytest rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/pytest.txt
wait $vpid; echo "variants rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/variants.txt
for r in 1 2; do
  for v in old new; do build/cpp/var/$v/metadata --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
done
python3 bench/ab_variants.py compare $R/ab old,new | tee $R/default.md
python3 bench/bench_suite.py --out $R/suite --minutes 3.0 > $R/suite.txt 2>&1
echo "suite rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/suite.txt
if [ $((SECONDS - t0)) -lt 480 ]; then
  timeout $((560 - (SECONDS - t0))) python3 tests/soak/soak.py --replays 20000 --check-every 1000 > $R/soak.txt 2>&1
  echo "soak rc=$? $((SECONDS - t0)) s"; tail -n 6 $R/soak.txt
fi
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/e2.tgz -C $OUT e2
