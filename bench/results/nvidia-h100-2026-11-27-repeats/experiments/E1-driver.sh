#!/usr/bin/env bash
# E1: install, the repeat-path host probe (quiet machine), GPU pytest + C++ build, ctest, the buffers
# sanitizer step, then base vs row-group grid limits (bench_metadata rounds).
set -u
cd "$(dirname "$0")/.."
R=$OUT/e1; mkdir -p $R/ab
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1
echo "pip rc=$? $((SECONDS - t0)) s"
python3 bench/probes/repeat_path.py --rounds 7 > $R/repeat_path.md 2>&1
echo "probe rc=$? $((SECONDS - t0)) s"; cat $R/repeat_path.md
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 12; } > $R/build.txt 2>&1 &
bpid=$!
python3 -m pytest -q -rs -p no:cacheprovider tests/python > $R/pytest.txt 2>&1
echo "pytest rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/pytest.txt
wait $bpid; echo "build rc=$? $((SECONDS - t0)) s"
python3 bench/ab_variants.py build base=TREE g384=.scratch/g384.diff g256=.scratch/g256.diff > $R/variants.txt 2>&1 &
vpid=$!
ctest --test-dir build/cpp -j 4 > $R/ctest.txt 2>&1
echo "ctest rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/ctest.txt
PYTORCH_NO_CUDA_MEMORY_CACHING=1 compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 1 \
  python3 -m pytest -q -p no:cacheprovider tests/python/test_metadata_gpu.py -k metadata_empty > $R/sanitizer_buffers.txt 2>&1
echo "sanitizer-buffers rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/sanitizer_buffers.txt
wait $vpid; echo "variants rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/variants.txt
for r in 1 2; do
  for v in base g384 g256; do build/cpp/var/$v/metadata --json=$R/ab/$v-r$r.json > /dev/null 2>&1 || echo "$v r$r failed"; done
  echo "round $r $((SECONDS - t0)) s"
  [ $((SECONDS - t0)) -gt 500 ] && break
done
python3 bench/ab_variants.py compare $R/ab base,g384,g256 | tee $R/default.md
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/e1.tgz -C $OUT e1
