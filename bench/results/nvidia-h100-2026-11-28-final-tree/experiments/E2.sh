#!/usr/bin/env bash
# E2 (E1 machine, warm): the whole suite on the final tree (925c6b9) as E1 pip installed it, against D4; then the
# Python tests, GPU ones included, in the time left.
set -uo pipefail
W=/tmp/E2; rm -rf $W; mkdir -p $W
pack() { tar -C /tmp -czf $OUT/E2.tgz E2 2>/dev/null; }
trap pack EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $W/gpu.txt
if ! python3 -c "import specmeta" 2>/dev/null; then
  python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $W/pip.txt 2>&1
  echo "pip rc=$? at $SECONDS s" | tee -a $W/checks.txt
fi
python3 -c "import specmeta; print(specmeta.__file__)" > $W/pkg.txt 2>&1
PYTHONUNBUFFERED=1 timeout 330 python3 bench/bench_suite.py --out $W/suite --minutes 2.8 > $W/suite.log 2>&1
echo "suite rc=$? at $SECONDS s" | tee -a $W/checks.txt
python3 bench/suite_must_show.py $W/suite bench/results/nvidia-h100-2026-11-28-two-pair-inflight/suite \
  > $W/must-show.md 2>&1
head -14 $W/must-show.md; pack
timeout $((585 - SECONDS)) python3 -m pytest -q -rs -p no:cacheprovider tests/python > $W/pytest.txt 2>&1
echo "pytest rc=$? at $SECONDS s" | tee -a $W/checks.txt; tail -n 4 $W/pytest.txt
echo "total $SECONDS s"
