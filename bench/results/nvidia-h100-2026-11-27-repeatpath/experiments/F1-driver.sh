#!/usr/bin/env bash
# F1 (H100): install; the repeat-path host probes on a quiet machine (last stop's path against this tree's, one
# process; repeat_path.py: Builder, repeat, dict-built keywords, full path); then the C++ build beside the full
# GPU pytest; then every CUDA and rule gtest.
set -u
cd "$(dirname "$0")/.."
R=$OUT/f1; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
python3 --version
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1
echo "pip rc=$? $((SECONDS - t0)) s"
python3 .scratch/ab_repeat.py 9 > $R/ab_repeat.md 2>&1
echo "ab_repeat rc=$? $((SECONDS - t0)) s"; cat $R/ab_repeat.md
python3 bench/probes/repeat_path.py --rounds 7 > $R/repeat_path.md 2>&1
echo "repeat_path rc=$? $((SECONDS - t0)) s"; cat $R/repeat_path.md
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON && cmake --build build/cpp -j 12; } > $R/build.txt 2>&1 &
bpid=$!
python3 -m pytest -q -rs -p no:cacheprovider tests/python > $R/pytest.txt 2>&1
echo "pytest rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/pytest.txt
wait $bpid; echo "build rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/build.txt
build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 --gtest_filter='*Cuda*:*Rule*:-*UseCudaDevice*' > $R/gtests.txt 2>&1
echo "gpu gtests rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/gtests.txt
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/f1.tgz -C $OUT f1
