#!/usr/bin/env bash
# J2 (J1's machine, warm, the package J1 installed): every Python test, GPU ones included; memcheck, racecheck,
# initcheck and synccheck over the copy-order and page-table GoogleTests of mend's binary.
set -uo pipefail
W=/tmp/J2; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/J2.tgz J2 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
python3 -c "import specmeta; print(specmeta.__file__)" > $W/pkg.txt 2>&1 || \
  python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1
timeout 330 python3 -m pytest -q -rs -p no:cacheprovider tests/python > $W/pytest.txt 2>&1
echo "pytest rc=$? at $SECONDS s" | tee -a $W/checks.txt; tail -n 4 $W/pytest.txt; pack
V=/tmp/jv/j; [ -x $V/specmeta_tests ] || { rm -rf /tmp/jv; mkdir -p /tmp/jv; tar -C /tmp/jv -xJf .scratch/h/j.tar.xz; }
F='MetadataCudaTest.PassesInFlight:MetadataCudaTest.NextPassPrefetch:MetadataCudaTest.RowGroupLayouts:MetadataCudaTest.HighOccupancyPageSizes'
for t in memcheck racecheck initcheck synccheck; do
  [ $SECONDS -gt 540 ] && { echo "no time for $t" | tee -a $W/checks.txt; continue; }
  timeout $((590 - SECONDS)) compute-sanitizer --tool $t --error-exitcode 1 $V/specmeta_tests --gtest_filter=$F \
    > $W/$t.txt 2>&1
  echo "$t rc=$? at $SECONDS s" | tee -a $W/checks.txt; tail -n 2 $W/$t.txt
done
echo "total $SECONDS s"
