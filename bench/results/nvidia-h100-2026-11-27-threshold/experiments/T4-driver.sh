#!/usr/bin/env bash
# Q4 (tree 162fac6): C++ build; memcheck, initcheck, synccheck over the CUDA gtests one at a time (per-test
# output, time limits); beside them the Python GPU tests of the builder; then the soak.
set -uo pipefail
W=/tmp/q4; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/q4.tgz q4 2>/dev/null; }
trap pack EXIT
( python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1; echo "pip rc=$? $SECONDS s" >> $W/pip.txt ) &
pp=$!
cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON -DSPECMETA_BENCH=ON > $W/build.txt 2>&1 && cmake --build build/cpp -j 16 >> $W/build.txt 2>&1; echo "build rc=$? $SECONDS s"
T=build/cpp/tests/cpp/specmeta_tests
wait $pp; tail -1 $W/pip.txt
( python3 -m pytest -q -rs -p no:cacheprovider tests/python/test_metadata_gpu.py tests/python/test_expand_gpu.py > $W/pytest_gpu.txt 2>&1; echo "pytest rc=$? $SECONDS s" >> $W/pytest_gpu.txt ) &
pt=$!
for tool in memcheck initcheck synccheck; do
  s=$SECONDS
  lim=240; [ $tool = memcheck ] || lim=130
  timeout $lim compute-sanitizer --tool $tool --error-exitcode 1 $T --gtest_filter='*Cuda*:-*UseCudaDevice*' > $W/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - s)) s" | tee -a $W/sanitizers.txt
  tail -4 $W/$tool.txt
  pack
done
wait $pt; tail -3 $W/pytest_gpu.txt
if [ $SECONDS -lt 520 ]; then
  timeout 40 python3 tests/soak/soak.py --replays 100000 --check-every 1000 > $W/soak.txt 2>&1; echo "soak rc=$?" | tee -a $W/soak.txt
fi
echo "total $SECONDS s"
