#!/usr/bin/env bash
# H2 (H1's machine, warm, the package H1 installed): every Python test, GPU ones included; then memcheck and
# racecheck over the copy-order GoogleTests on the H200.
set -uo pipefail
W=/tmp/H2; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/H2.tgz H2 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
python3 -c "import specmeta; print(specmeta.__file__)" > $W/pkg.txt 2>&1 || \
  python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1
timeout 400 python3 -m pytest -q -rs -p no:cacheprovider tests/python > $W/pytest.txt 2>&1
echo "pytest rc=$? at $SECONDS s" | tee -a $W/checks.txt; tail -n 4 $W/pytest.txt; pack
V=/tmp/h1v; [ -x $V/specmeta_tests ] || { rm -rf $V; mkdir -p $V; tar -C $V -xJf .scratch/h/h1.tar.xz; }
F='MetadataCudaTest.PassesInFlight:MetadataCudaTest.NextPassPrefetch'
for t in memcheck racecheck; do
  [ $SECONDS -gt 520 ] && { echo "no time for $t"; break; }
  timeout $((585 - SECONDS)) compute-sanitizer --tool $t --error-exitcode 1 $V/specmeta_tests --gtest_filter=$F \
    > $W/$t.txt 2>&1
  echo "$t rc=$? at $SECONDS s" | tee -a $W/checks.txt; tail -n 2 $W/$t.txt
done
echo "total $SECONDS s"
